"""Forward-solve and posterior-sampling throughput of the wideband scattering chapter at its book scale.

usage: python benchmarks/scattering_throughput.py [--samples 48] [--scale book] [--posterior-media 16]

Forward solve: one medium = all frequencies, one LU factorisation each, all sources as right-hand sides;
measured serially and with one process per core (the data-set generator's path). Posterior: Euler-Maruyama
sampling with the chapter's model size and sampler steps (weights untrained: the cost does not depend on them).
Prints human-readable lines, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from alignbook import scales
from alignbook.scattering import datasets
from alignbook.scattering.diffusion import ConditionalDenoiser
from alignbook.scattering.equinet import BackProjectionLatents
from alignbook.scattering.train import posterior


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=48, help="media to solve for each measurement")
    parser.add_argument("--scale", default="book", choices=scales.SCALES)
    parser.add_argument("--posterior-media", type=int, default=16, help="data sets to draw posterior samples for")
    args = parser.parse_args()
    cfg = scales.get("wbpd", args.scale)
    spec = datasets.DataSpec(cfg.family, cfg.n, cfg.frequencies, cfg.n, cfg.fd_order, args.samples, "test", 0)
    workers = datasets._workers()
    rates = {}
    for label, count in (("serial", 1), ("parallel", workers)):
        start = time.perf_counter()
        datasets.generate(spec, workers=count, chunk=max(1, args.samples // (2 * count)))
        rates[label] = args.samples / (time.perf_counter() - start)
        print(f"forward solves ({label}, {count} process(es)): {rates[label]:.1f} media/s "
              f"(n = {cfg.n}, {len(cfg.frequencies)} frequencies, {cfg.n} sources)")
    dataset_seconds = (cfg.train + cfg.test) / rates["parallel"]
    print(f"projected book data set ({cfg.train + cfg.test} media): {dataset_seconds:.0f} s")

    geom = spec.geometry()
    model = ConditionalDenoiser(BackProjectionLatents(geom, cfg.n), cfg.width, cfg.blocks).eval()
    data = torch.randn(args.posterior_media, len(cfg.frequencies), cfg.n, cfg.n, dtype=torch.complex64)
    start = time.perf_counter()
    posterior(model, data, samples=cfg.samples, steps=cfg.sampler_steps, seed=0)
    posterior_rate = cfg.samples * len(data) / (time.perf_counter() - start)
    print(f"posterior samples: {posterior_rate:.2f} per second ({cfg.sampler_steps} sampler steps)")
    print(json.dumps({
        "task": f"wbpd@{args.scale}", "n": cfg.n, "forward_media_per_s": round(rates["parallel"], 2),
        "forward_media_per_s_serial": round(rates["serial"], 2), "workers": workers,
        "projected_dataset_s": round(dataset_seconds, 1), "posterior_samples_per_s": round(posterior_rate, 2),
        "sampler_steps": cfg.sampler_steps,
    }))


if __name__ == "__main__":
    main()
