"""UniPC (Zhao et al. 2023), the unified predictor-corrector as A1111 runs it: multistep, data
prediction, in the continuous time of DPM-Solver's discrete VP schedule (t_n = (n + 1) / N, log alpha
interpolated piecewise-linearly), with A1111's options `uni_pc_variant` (bh1 / bh2 / vary_coeff),
`uni_pc_skip_type` (time_uniform / time_quadratic / logSNR), `uni_pc_order` and
`uni_pc_lower_order_final`. `model(x, t_input) -> eps`, with t_input = (t - 1/N) * 1000 (fractional)."""
from __future__ import annotations

from typing import Callable

import torch

from sdwebui.engine.sampling.kdiffusion.solvers import Callback


def _interpolate(x: torch.Tensor, xp: torch.Tensor, yp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear y(x) through (xp, yp) (xp increasing), extended linearly past both ends."""
    idx = torch.searchsorted(xp, x.contiguous()).clamp(1, len(xp) - 1)
    x0, x1, y0, y1 = xp[idx - 1], xp[idx], yp[idx - 1], yp[idx]
    return y0 + (x - x0) * (y1 - y0) / (x1 - x0)


class VPSchedule:
    """The discrete schedule in continuous time: t_n = (n + 1) / N for the trained timesteps."""

    def __init__(self, alphas_cumprod: torch.Tensor) -> None:
        self.log_alpha = 0.5 * torch.log(alphas_cumprod.float())
        self.N = len(self.log_alpha)
        self.t = torch.linspace(0.0, 1.0, self.N + 1)[1:]

    def log_mean(self, t: torch.Tensor) -> torch.Tensor:
        return _interpolate(t.reshape(-1), self.t.to(t.device), self.log_alpha.to(t.device))

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.log_mean(t))

    def std(self, t: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(1.0 - torch.exp(2.0 * self.log_mean(t)))

    def lam(self, t: torch.Tensor) -> torch.Tensor:
        """Half log-SNR: log alpha - log sigma."""
        m = self.log_mean(t)
        return m - 0.5 * torch.log(1.0 - torch.exp(2.0 * m))

    def inverse_lambda(self, lam: torch.Tensor) -> torch.Tensor:
        log_alpha = -0.5 * torch.logaddexp(torch.zeros((1,), device=lam.device), -2.0 * lam)
        return _interpolate(log_alpha.reshape(-1), torch.flip(self.log_alpha.to(lam.device), [0]),
                            torch.flip(self.t.to(lam.device), [0]))

    def model_time(self, t: torch.Tensor) -> torch.Tensor:
        return (t - 1.0 / self.N) * 1000.0


def time_steps(ns: VPSchedule, skip_type: str, t_T: float, t_0: float, n: int, device) -> torch.Tensor:
    if skip_type == "logSNR":
        lam_T, lam_0 = ns.lam(torch.tensor(t_T, device=device)), ns.lam(torch.tensor(t_0, device=device))
        return ns.inverse_lambda(torch.linspace(lam_T.cpu().item(), lam_0.cpu().item(), n + 1).to(device))
    if skip_type == "time_uniform":
        return torch.linspace(t_T, t_0, n + 1).to(device)
    if skip_type == "time_quadratic":
        return torch.linspace(t_T ** 0.5, t_0 ** 0.5, n + 1).pow(2).to(device)
    raise ValueError(f"uni_pc_skip_type must be 'time_uniform', 'time_quadratic' or 'logSNR', not {skip_type!r}")


class _UniPC:
    def __init__(self, eps_model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ns: VPSchedule,
                 variant: str) -> None:
        if variant not in ("bh1", "bh2", "vary_coeff"):
            raise ValueError(f"uni_pc_variant must be 'bh1', 'bh2' or 'vary_coeff', not {variant!r}")
        self.eps_model, self.ns, self.variant = eps_model, ns, variant

    def data(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x0 from the guided noise prediction at continuous time t (one time for the batch)."""
        eps = self.eps_model(x, self.ns.model_time(t))
        return (x - self.ns.std(t)[0] * eps) / self.ns.alpha(t)[0]

    def _common(self, model_prev: list, t_prev: list, t: torch.Tensor, order: int):
        """What both variants start from: the log-SNR step h, the earlier points' ratios r_k (and 1 for
        this one), their scaled differences D1, and sigma/alpha at the ends of the step (host scalars)."""
        ns = self.ns
        lam_prev0 = ns.lam(t_prev[-1])
        h = ns.lam(t) - lam_prev0
        rks, d1s = [], []
        for i in range(1, order):
            rk = float(((ns.lam(t_prev[-(i + 1)]) - lam_prev0) / h)[0])
            rks.append(rk)
            d1s.append((model_prev[-(i + 1)] - model_prev[-1]) / rk)
        ends = ns.std(t_prev[-1])[0], ns.std(t)[0], torch.exp(ns.log_mean(t))[0]
        return -h[0], torch.tensor(rks + [1.0]), d1s, ends

    def update(self, x: torch.Tensor, model_prev: list, t_prev: list, t: torch.Tensor, order: int,
               use_corrector: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.variant == "vary_coeff":
            return self._vary(x, model_prev, t_prev, t, order, use_corrector)
        return self._bh(x, model_prev, t_prev, t, order, use_corrector)

    def _bh(self, x, model_prev, t_prev, t, order, use_corrector):
        hh, rks, d1s, (sigma_prev0, sigma_t, alpha_t) = self._common(model_prev, t_prev, t, order)
        h_phi_1 = torch.expm1(hh)
        h_phi_k = h_phi_1 / hh - 1
        b_h = hh if self.variant == "bh1" else torch.expm1(hh)
        rows, b, factorial = [], [], 1
        for i in range(1, order + 1):
            rows.append(torch.pow(rks, i - 1))
            b.append(h_phi_k * factorial / b_h)
            factorial *= i + 1
            h_phi_k = h_phi_k / hh - 1 / factorial
        R = torch.stack(rows)
        b = torch.tensor(b)
        D1s = torch.stack(d1s, dim=1) if d1s else None
        if D1s is not None:
            rhos_p = torch.tensor([0.5]) if order == 2 else torch.linalg.solve(R[:-1, :-1], b[:-1])
        if use_corrector:
            rhos_c = torch.tensor([0.5]) if order == 1 else torch.linalg.solve(R, b)
        scale = alpha_t * b_h
        x_base = (sigma_t / sigma_prev0) * x - (alpha_t * h_phi_1) * model_prev[-1]
        pred = torch.einsum("k,bkchw->bchw", rhos_p.to(x), D1s) if D1s is not None else 0
        x_t = x_base - scale * pred
        model_t = None
        if use_corrector:
            model_t = self.data(x_t, t)
            corr = torch.einsum("k,bkchw->bchw", rhos_c[:-1].to(x), D1s) if D1s is not None else 0
            x_t = x_base - scale * (corr + rhos_c[-1] * (model_t - model_prev[-1]))
        return x_t, model_t

    def _vary(self, x, model_prev, t_prev, t, order, use_corrector):
        hh, rks, d1s, (sigma_prev0, sigma_t, alpha_t) = self._common(model_prev, t_prev, t, order)
        K = len(rks)
        cols, col = [], torch.ones_like(rks)
        for k in range(1, K + 1):
            cols.append(col)
            col = col * rks / (k + 1)
        C = torch.stack(cols, dim=1)
        D1s = torch.stack(d1s, dim=1) if d1s else None
        if D1s is not None:
            A_p = torch.linalg.inv(C[:-1, :-1]).to(x)
        if use_corrector:
            A_c = torch.linalg.inv(C).to(x)
        h_phi_ks, h_phi_k, factorial = [], torch.expm1(hh), 1
        for k in range(1, K + 2):
            h_phi_ks.append(h_phi_k)
            h_phi_k = h_phi_k / hh - 1 / factorial
            factorial *= k + 1
        x_base = (sigma_t / sigma_prev0) * x - alpha_t * h_phi_ks[0] * model_prev[-1]
        x_t = x_base
        if D1s is not None:
            for k in range(K - 1):
                x_t = x_t - alpha_t * h_phi_ks[k + 1] * torch.einsum("bkchw,k->bchw", D1s, A_p[k])
        model_t = None
        if use_corrector:
            model_t = self.data(x_t, t)
            x_t = x_base
            k = 0
            for k in range(K - 1):
                x_t = x_t - alpha_t * h_phi_ks[k + 1] * torch.einsum("bkchw,k->bchw", D1s, A_c[k][:-1])
            x_t = x_t - alpha_t * h_phi_ks[K] * ((model_t - model_prev[-1]) * A_c[k][-1])
        return x_t, model_t


def unipc(eps_model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
          alphas_cumprod: torch.Tensor, steps: int, callback: Callback, *, t_start: float | None = None,
          variant: str = "bh1", skip_type: str = "time_uniform", order: int = 3,
          lower_order_final: bool = True) -> torch.Tensor:
    """Multistep UniPC from t_start (default: pure noise, t = 1) to t = 1/N in `steps` steps; the
    first `order` - 1 steps warm up at lower orders. The order is capped at `steps` (A1111 stops with
    an assertion there)."""
    ns = VPSchedule(alphas_cumprod.cpu())      # the schedule's scalars on the host: no GPU syncs
    solver = _UniPC(eps_model, ns, variant)
    order = max(1, min(int(order), steps))
    ts = time_steps(ns, skip_type, 1.0 if t_start is None else float(t_start), 1.0 / ns.N, steps, "cpu")
    vec = ts[0].expand(x.shape[0])
    model_prev, t_prev = [solver.data(x, vec)], [vec]
    index = 0
    for init_order in range(1, order):
        vec = ts[init_order].expand(x.shape[0])
        x, model_x = solver.update(x, model_prev, t_prev, vec, init_order, True)
        if model_x is None:
            model_x = solver.data(x, vec)
        callback(index, x, model_x)
        index += 1
        model_prev.append(model_x)
        t_prev.append(vec)
    for step in range(order, steps + 1):
        vec = ts[step].expand(x.shape[0])
        step_order = min(order, steps + 1 - step) if lower_order_final else order
        x, model_x = solver.update(x, model_prev, t_prev, vec, step_order, step != steps)
        callback(index, x, model_x if model_x is not None else x)
        index += 1
        for i in range(order - 1):
            t_prev[i], model_prev[i] = t_prev[i + 1], model_prev[i + 1]
        t_prev[-1] = vec
        if step < steps:
            model_prev[-1] = model_x if model_x is not None else solver.data(x, vec)
    return x
