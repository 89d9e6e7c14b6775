"""How good a reconstruction is: relative RMSE, CRPS over posterior samples, and a power-spectrum log ratio."""

from __future__ import annotations

import numpy as np


def _check_pair(estimate: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    estimate, truth = np.asarray(estimate, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if estimate.shape != truth.shape:
        raise ValueError(f"estimate has shape {estimate.shape} but the truth has shape {truth.shape}")
    if truth.ndim != 3:
        raise ValueError(f"expected a batch of images (batch, n, n), got shape {truth.shape}")
    return estimate, truth


def rrmse(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """||estimate - truth|| / ||truth|| for each image of a batch (the paper's headline metric)."""
    estimate, truth = _check_pair(estimate, truth)
    diff = (estimate - truth).reshape(len(truth), -1)
    return np.linalg.norm(diff, axis=1) / np.linalg.norm(truth.reshape(len(truth), -1), axis=1)


def crps(samples: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Continuous ranked probability score of an ensemble, per image (pixel average); lower is better.

    CRPS = E|X - y| - E|X - X'| / 2 for X, X' independent draws of the ensemble; the second term uses the
    sorted-ensemble identity sum_ij |x_i - x_j| = 2 sum_i (2i - m - 1) x_(i), which is O(m log m), not O(m^2).
    With one sample it is the mean absolute error.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 4 or samples.shape[1:] != np.shape(truth):
        raise ValueError(f"samples must be (members, *truth.shape) = (m, {np.shape(truth)}), got {samples.shape}")
    m = samples.shape[0]
    skill = np.abs(samples - truth[None]).mean(axis=0)
    ordered = np.sort(samples, axis=0)
    weights = (2 * np.arange(1, m + 1) - m - 1).reshape(-1, 1, 1, 1)
    spread = 2 * (weights * ordered).sum(axis=0) / m**2
    return (skill - spread / 2).reshape(len(truth), -1).mean(axis=1)


def radial_power_spectrum(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectra of a batch: (wavenumber bins in cycles per unit length, spectra)."""
    images = np.asarray(images, dtype=np.float64)
    n = images.shape[-1]
    power = np.abs(np.fft.fftshift(np.fft.fft2(images), axes=(-2, -1))) ** 2
    freq = np.fft.fftshift(np.fft.fftfreq(n, d=1.0 / (n - 1)))
    radius = np.hypot(*np.meshgrid(freq, freq, indexing="ij"))
    step = freq[1] - freq[0]
    bins = np.rint(radius / step).astype(int)
    usable = bins <= n // 2  # up to Nyquist; the corners of the square spectrum are incomplete rings
    counts = np.bincount(bins[usable])
    flat = power.reshape(-1, n * n)[:, usable.ravel()]
    spectra = np.stack([np.bincount(bins[usable], weights=row) / counts for row in flat])
    return np.arange(len(counts)) * step, spectra.reshape(*images.shape[:-2], len(counts))


def spectrum_log_ratio(estimate: np.ndarray, truth: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    """Mean |log(P_estimate / P_truth)| over the wavenumber bins (skipping the mean), per image; 0 is perfect."""
    estimate, truth = _check_pair(estimate, truth)
    _, p_est = radial_power_spectrum(estimate)
    _, p_true = radial_power_spectrum(truth)
    return np.abs(np.log((p_est[:, 1:] + floor) / (p_true[:, 1:] + floor))).mean(axis=1)
