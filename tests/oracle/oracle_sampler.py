#!/usr/bin/env python3
# Oracle for lk-schedule and lk-sampler: the schedule and the samplers written again in torch
# float64, in the forms k-diffusion, ldm and diffusers state them (DDIM and LCM in the
# variance-preserving alpha form), independent of the C code's shared step coefficients.
#   mode "tables": alphas_cumprod then sigmas, 1000 each.
#   mode "spacings": param steps, a comma-separated list; for each count s in turn: default
#                    (s + 1), karras (s + 1), ddim (s + 1) sigmas and ddim timesteps (s).
#   mode "interpolation": inputs sigmas.bin and ts.bin (n each) → n sigma_to_t, n t_to_sigma.
#   mode "sample": params sampler, schedule, steps, first, n; inputs x.bin (n, the starting
#                  latent in sigma space), target.bin (n), noise.bin (one row of n per step run)
#                  → one row of n per step run: x after each step; first > 0 runs
#                  sigmas[first:] as img2img does. The model is the exact denoiser of
#                  N(target, 1) data: denoised = (x + σ²·target) / (1 + σ²).
import math

import torch

from lk_oracle import Job

D = torch.float64
N_TRAIN = 1000


def alphas_cumprod():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, N_TRAIN, dtype=D) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


ALPHAS = alphas_cumprod()
SIGMAS = ((1 - ALPHAS) / ALPHAS) ** 0.5
LOG_SIGMAS = SIGMAS.log()


def t_to_sigma(t):
    t = t.to(D).clamp(0, N_TRAIN - 1)
    low, high, w = t.floor().long(), t.ceil().long(), t.frac()
    return ((1 - w) * LOG_SIGMAS[low] + w * LOG_SIGMAS[high]).exp()


def sigma_to_t(sigma):
    log_sigma = sigma.to(D).log()
    dists = log_sigma - LOG_SIGMAS[:, None]
    low_idx = dists.ge(0).cumsum(dim=0).argmax(dim=0).clamp(max=N_TRAIN - 2)
    high_idx = low_idx + 1
    low, high = LOG_SIGMAS[low_idx], LOG_SIGMAS[high_idx]
    w = ((low - log_sigma) / (low - high)).clamp(0, 1)
    return (1 - w) * low_idx + w * high_idx


def append_zero(x):
    return torch.cat([x, x.new_zeros(1)])


def sigmas_default(n):
    return append_zero(t_to_sigma(torch.linspace(N_TRAIN - 1, 0, n, dtype=D)))


def sigmas_karras(n, rho=7.0):
    ramp = torch.linspace(0, 1, n, dtype=D)
    lo, hi = SIGMAS[0] ** (1 / rho), SIGMAS[-1] ** (1 / rho)
    return append_zero((hi + ramp * (lo - hi)) ** rho)


def ddim_timesteps(n):
    ratio = N_TRAIN // n
    return (torch.arange(0, n, dtype=torch.long) * ratio).flip(0) + 1


def sigmas_ddim(n):
    return append_zero(SIGMAS[ddim_timesteps(n)])


def model(x, sigma, target):
    return (x + sigma ** 2 * target) / (1 + sigma ** 2)


def sample(name, sigmas, x, target, noise, ddim_ts=None):
    out = []
    old_denoised, h_last = None, None
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s, target)
        if name == "euler":
            d = (x - denoised) / s
            x = x + d * (s_next - s)
        elif name == "euler_a":
            sigma_up = min(s_next, (s_next ** 2 * (s ** 2 - s_next ** 2) / s ** 2) ** 0.5)
            sigma_down = (s_next ** 2 - sigma_up ** 2) ** 0.5
            d = (x - denoised) / s
            x = x + d * (sigma_down - s)
            if s_next > 0:
                x = x + noise[i] * sigma_up
        elif name == "dpmpp_2m":
            t, t_next = -math.log(s), (-math.log(s_next) if s_next > 0 else math.inf)
            h = t_next - t
            if old_denoised is None or s_next == 0:
                x = (s_next / s) * x - math.expm1(-h) * denoised
            else:
                r = h_last / h
                denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
                x = (s_next / s) * x - math.expm1(-h) * denoised_d
            h_last = h
        elif name == "dpmpp_2m_sde":
            if s_next == 0:
                x = denoised
            else:
                h = math.log(s) - math.log(s_next)
                eta_h = h
                x = s_next / s * math.exp(-eta_h) * x - math.expm1(-h - eta_h) * denoised
                if old_denoised is not None:
                    r = h_last / h
                    x = x + 0.5 * -math.expm1(-h - eta_h) * (1 / r) * (denoised - old_denoised)
                x = x + noise[i] * s_next * math.sqrt(-math.expm1(-2 * eta_h))
                h_last = h
        elif name == "ddim":
            # ldm's step in the VP form, x_vp = x·√ᾱ, then back to sigma space.
            a_t = ALPHAS[ddim_ts[i]]
            a_prev = ALPHAS[ddim_ts[i + 1]] if i + 1 < len(ddim_ts) else torch.tensor(1.0, dtype=D)
            x_vp = x * a_t.sqrt()
            eps = (x_vp - a_t.sqrt() * denoised) / (1 - a_t).sqrt()
            x_vp = a_prev.sqrt() * denoised + (1 - a_prev).sqrt() * eps
            x = x_vp / a_prev.sqrt()
        elif name == "lcm":
            a_prev = 1 / (1 + s_next ** 2)
            x_vp = math.sqrt(a_prev) * denoised
            if s_next > 0:
                x_vp = x_vp + math.sqrt(1 - a_prev) * noise[i]
            x = x_vp / math.sqrt(a_prev)
        else:
            raise SystemExit("unknown sampler " + name)
        old_denoised = denoised
        out.append(x.clone())
    return torch.stack(out)


job = Job()
mode = job["mode"]
if mode == "tables":
    job.save(torch.cat([ALPHAS, SIGMAS]))
elif mode == "spacings":
    parts = []
    for steps in (int(s) for s in job["steps"].split(",")):
        parts += [sigmas_default(steps), sigmas_karras(steps), sigmas_ddim(steps),
                  ddim_timesteps(steps).to(D)]
    job.save(torch.cat(parts))
elif mode == "interpolation":
    n = job["n"]
    job.save(torch.cat([sigma_to_t(job.tensor("sigmas", (n,)).to(D)),
                        t_to_sigma(job.tensor("ts", (n,)).to(D))]))
else:
    # first: img2img, the sampler runs sigmas[first:] of a steps-step sequence.
    steps, n, first = job["steps"], job["n"], job.get("first", 0)
    schedules = {"default": sigmas_default, "karras": sigmas_karras, "ddim": sigmas_ddim}
    sigmas = [float(s) for s in schedules[job["schedule"]](steps)][first:]
    ts = [int(t) for t in ddim_timesteps(steps)][first:] if job["schedule"] == "ddim" else None
    x = job.tensor("x", (n,)).to(D)
    target = job.tensor("target", (n,)).to(D)
    noise = job.tensor("noise", (len(sigmas) - 1, n)).to(D)
    job.save(sample(job["sampler"], sigmas, x, target, noise, ts))
