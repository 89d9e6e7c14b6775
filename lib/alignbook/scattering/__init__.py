"""Wideband inverse scattering with back-projection diffusion (the "Beyond language" chapter).

Where things live (one idea per file):

- ``helmholtz``      the forward solver: finite differences of selectable order, complex-stretched PML, one LU
                     per medium and frequency for all sources, receivers on a circle
- ``analytic``       exact solutions it is checked against (penetrable disk, manufactured field)
- ``datasets``       squares, triangles and Shepp-Logan-type media; deterministic, parallel, cached generation
- ``backprojection`` the Born operator, its adjoint and the Tikhonov-filtered back-projection (baselines)
- ``equinet``        the rotation-equivariant learned back-projection (and the analytic one as a frozen kernel)
- ``denoiser``       the conditional CNN with FiLM noise conditioning
- ``diffusion``      tangent schedule, EDM preconditioning, weighted loss, Euler-Maruyama sampler
- ``train``          normalisation, training loop (diffusion or MSE objective), EMA, posterior sampling
- ``metrics``        relative RMSE, CRPS, radially averaged power spectra and their log ratio

Nothing is imported here, so that data-generating worker processes stay free of torch.
"""
