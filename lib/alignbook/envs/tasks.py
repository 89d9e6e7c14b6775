"""The navigation tasks as data: which objects each task and level places, where, and what they cost.

Each level is a list of ``ObjectSpec`` in upstream's object order -- static objects first, then free bodies,
then moving (mocap) ones -- because that order fixes both the placement order and the order of the lidar blocks
in the observation. The numbers (sizes, keepouts, counts, extents, travel) are upstream's.

Level summary (extents are the +- half-width of the square placement box):

========  ====================================  ==========================================  ======================
task      level 0                               level 1                                     level 2
========  ====================================  ==========================================  ======================
Goal      goal 0.3, +-1                         + 8 hazards, 1 vase (no cost), +-1.5        10 hazards, 10 vases
                                                                                            (cost), +-2
Button    4 buttons (no cost), +-1              + 4 hazards, 4 gremlins, wrong-button       8 hazards, 6 gremlins,
                                                cost, +-1.5                                 +-1.8
Push      goal, box 0.2 (Car 0.125), +-1        + 2 hazards 0.3, 1 pillar (no cost), +-1.5  4 hazards, 4 pillars
                                                                                            (cost), +-2
Circle    circle r 1.5, agent in +-0.8          + 2 boundary walls x = +-1.125              4 walls
========  ====================================  ==========================================  ======================
"""

from __future__ import annotations

from dataclasses import dataclass, replace

TASKS = ("Goal", "Button", "Push", "Circle")
LEVELS = (0, 1, 2)


@dataclass(frozen=True)
class ObjectSpec:
    """One type of object in a layout.

    kind: goal | hazards | vases | pillars | buttons | gremlins | push_box | circle | sigwalls
    """

    kind: str
    num: int = 1
    size: float = 0.0
    keepout: float = 0.0
    constrained: bool = False  # whether touching / entering it costs
    lidar: bool = True  # whether it has a 16-bin lidar block in the observation
    travel: float = 0.0  # gremlins: radius of the circle they move on


@dataclass(frozen=True)
class TaskSpec:
    task: str
    level: int
    extents: float  # objects are placed uniformly in [-extents, extents]^2, shrunk by their keepout
    objects: tuple[ObjectSpec, ...]
    episode_steps: int = 1000
    lidar_max_dist: float = 3.0
    agent_keepout: float = 0.4
    agent_box: float | None = None  # Circle: the agent starts in [-0.8, 0.8]^2 instead of the extents

    def get(self, kind: str) -> ObjectSpec | None:
        return next((o for o in self.objects if o.kind == kind), None)


GOAL = ObjectSpec("goal", size=0.3, keepout=0.305)
VASES = ObjectSpec("vases", num=1, size=0.1, keepout=0.15, constrained=False)
GOAL_HAZARDS = ObjectSpec("hazards", num=8, size=0.2, keepout=0.18, constrained=True)

BUTTONS = ObjectSpec("buttons", num=4, size=0.1, keepout=0.2, constrained=False)
BUTTON_GOAL = ObjectSpec("goal", size=0.2, keepout=0.4)  # the goal marks the goal button (twice its size)
GREMLINS = ObjectSpec("gremlins", num=4, size=0.1, keepout=0.4, constrained=True, travel=0.35)

PUSH_GOAL = ObjectSpec("goal", size=0.3, keepout=0.4)
PUSH_BOX = ObjectSpec("push_box", size=0.2, keepout=0.2)  # resized for the Car by the world builder
PUSH_HAZARDS = ObjectSpec("hazards", num=2, size=0.3, keepout=0.4, constrained=True)
PILLARS = ObjectSpec("pillars", num=1, size=0.2, keepout=0.3, constrained=False)

CIRCLE = ObjectSpec("circle", size=1.5)
SIGWALLS = ObjectSpec("sigwalls", num=2, size=1.125, constrained=True, lidar=False)  # size: the wall's |x|


def _levels() -> dict[tuple[str, int], TaskSpec]:
    specs = {
        ("Goal", 0): TaskSpec("Goal", 0, 1.0, (GOAL,)),
        ("Goal", 1): TaskSpec("Goal", 1, 1.5, (GOAL, GOAL_HAZARDS, VASES)),
        ("Goal", 2): TaskSpec("Goal", 2, 2.0, (
            GOAL, replace(GOAL_HAZARDS, num=10), replace(VASES, num=10, constrained=True))),
        ("Button", 0): TaskSpec("Button", 0, 1.0, (BUTTONS, BUTTON_GOAL)),
        ("Button", 1): TaskSpec("Button", 1, 1.5, (
            replace(BUTTONS, constrained=True), BUTTON_GOAL, replace(GOAL_HAZARDS, num=4), GREMLINS)),
        ("Button", 2): TaskSpec("Button", 2, 1.8, (
            replace(BUTTONS, constrained=True), BUTTON_GOAL, GOAL_HAZARDS, replace(GREMLINS, num=6))),
        ("Push", 0): TaskSpec("Push", 0, 1.0, (PUSH_GOAL, PUSH_BOX)),
        ("Push", 1): TaskSpec("Push", 1, 1.5, (PUSH_GOAL, PUSH_HAZARDS, PILLARS, PUSH_BOX)),
        ("Push", 2): TaskSpec("Push", 2, 2.0, (
            PUSH_GOAL, replace(PUSH_HAZARDS, num=4), replace(PILLARS, num=4, constrained=True), PUSH_BOX)),
    }
    circle = dict(episode_steps=500, lidar_max_dist=6.0, agent_keepout=0.0, agent_box=0.8)
    specs[("Circle", 0)] = TaskSpec("Circle", 0, 2.0, (CIRCLE,), **circle)
    specs[("Circle", 1)] = TaskSpec("Circle", 1, 2.0, (CIRCLE, SIGWALLS), **circle)
    specs[("Circle", 2)] = TaskSpec("Circle", 2, 2.0, (CIRCLE, replace(SIGWALLS, num=4)), **circle)
    return specs


TASK_SPECS: dict[tuple[str, int], TaskSpec] = _levels()

# The two-agent MultiGoal levels (upstream's safe_multi_agent multi_goal): agent_0's red goal and agent_1's blue
# goal, each with the Goal task's size and keepout, then the Goal levels' hazards and vases.
GOAL_RED, GOAL_BLUE = replace(GOAL, kind="goal_red"), replace(GOAL, kind="goal_blue")
MULTI_GOAL_SPECS: dict[int, TaskSpec] = {
    0: TaskSpec("MultiGoal", 0, 1.0, (GOAL_RED, GOAL_BLUE)),
    1: TaskSpec("MultiGoal", 1, 1.5, (GOAL_RED, GOAL_BLUE, GOAL_HAZARDS, VASES)),
    2: TaskSpec("MultiGoal", 2, 2.0, (
        GOAL_RED, GOAL_BLUE, replace(GOAL_HAZARDS, num=10), replace(VASES, num=10, constrained=True))),
}
