"""The Alignment Book's library: the heavy lifting behind every chapter.

Where things live:

- ``alignbook.scales``   every chapter's sizes at each scale (smoke | book | full)
- ``alignbook.chapter``  what a notebook calls first: validate parameters, seed, pick the device
- ``alignbook.report``   the reproduction report each chapter ends with
- ``alignbook.cache``    atomic on-disk caches keyed by the values used and a digest of their code
- ``alignbook.threads``  the one thread policy: one torch thread for the book's small networks, whatever the
                         machine (two threads on a shared core wait for each other at every operation)
- ``alignbook.workers``  the one way to start a worker process (errors come back, workers die with the parent)
- ``alignbook.checks``   argument checks shared by every package
- ``alignbook.plotting`` the book's one figure style (column-width figures, seeds drawn honestly, one colour per method)
- ``alignbook.book``     the runner: papermill, timings, staleness, the site build
- ``alignbook.envs``     Safety-Gymnasium's tasks on MuJoCo 4 / Gymnasium 1.x (make, make_vec, list_tasks)
- ``alignbook.saferl``   safe RL: Lagrange/PID multipliers, SafePO's single- and multi-agent algorithms, OmniSafe's
                         off-policy family, Saute/Simmer, run directories, grids, a CLI; train/evaluate
- ``alignbook.worldmodel`` Safe DreamerV3: world model with reward and cost heads, planners, imagination
- ``alignbook.lm``       Baichuan 2 in miniature: tokenizer, decoder (a transformers model), training, scaling
- ``alignbook.rlhf``     PKU-SafeRLHF: its data and validator, a world with a hidden judge, reward/cost/moderation
                         models, Safe RLHF (PPO-Lagrangian on the decoder)
- ``alignbook.aligner``  the Aligner: a corrector trained on question-answer-correction triples, plug-and-play
- ``alignbook.scattering`` Helmholtz solver, scatterer data sets, back-projection, EquiNet, diffusion model
- ``alignbook.survey``   the survey's demos (alignment cycle, goal misgeneralisation, DPO, REx/DRO, probing, debate)
"""

__version__ = "0.1.0"

import warnings  # noqa: E402

# In a kernel without ipywidgets, tqdm.auto (imported by the chapters' progress bars and by transformers) falls
# back to text bars and warns "IProgress not found" into the notebook: noise for the reader, so filtered.
warnings.filterwarnings("ignore", message="IProgress not found")

from alignbook.chapter import Chapter, chapter, progress  # noqa: E402

__all__ = ["Chapter", "chapter", "progress", "__version__"]
