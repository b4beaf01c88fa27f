"""A1111's sampler options through the API: each changes the image where A1111 gives it to the sampler, and
the infotext records it under A1111's key when it differs from the default; the four samplers and three
schedule types the diffusers schedulers lacked run and reproduce."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.test_api import pixels, txt2img


_PLAIN: dict[tuple[str, str], tuple] = {}


def _run(api, sampler: str, scheduler: str = "Automatic", **kw):
    if not kw and (sampler, scheduler) in _PLAIN:      # the default run of a sampler is asked for often
        return _PLAIN[sampler, scheduler]
    out = txt2img(api, prompt="a red circle", seed=11, sampler_name=sampler, scheduler=scheduler, **kw)
    result = pixels(out["images"][0]), json.loads(out["info"])["infotexts"][0]
    if not kw:
        _PLAIN[sampler, scheduler] = result
    return result


@pytest.mark.parametrize("sampler,scheduler", [("DPM fast", "Automatic"), ("DPM adaptive", "Automatic"),
                                               ("Restart", "Automatic"), ("DDIM CFG++", "Automatic"),
                                               ("Euler", "KL Optimal"), ("Euler", "Align Your Steps"),
                                               ("DPM++ 2M", "Beta")])
def test_the_samplers_and_schedules_diffusers_lacked_run_and_reproduce(api, sampler, scheduler):
    image, text = _run(api, sampler, scheduler)
    assert f"Sampler: {sampler}," in text
    if scheduler != "Automatic":
        assert f"Schedule type: {scheduler}," in text
    again = pixels(txt2img(api, prompt="a red circle", seed=11, sampler_name=sampler, scheduler=scheduler)["images"][0])
    assert np.array_equal(image, again)
    other, _ = _run(api, "Euler")
    assert not np.array_equal(image, other)


# (sampler, scheduler, option overrides, infotext entry it must add)
CASES = [
    ("Euler", "Automatic", {"s_churn": 1.0}, "Sigma churn: 1.0"),
    ("Heun", "Automatic", {"s_churn": 1.0, "s_noise": 0.5}, "Sigma noise: 0.5"),
    ("DPM2", "Automatic", {"s_churn": 1.0, "s_tmin": 1.0}, "Sigma tmin: 1.0"),
    ("Euler", "Automatic", {"s_churn": 1.0, "s_tmax": 2.0}, "Sigma tmax: 2.0"),
    ("DPM++ 2S a", "Automatic", {"s_noise": 0.5}, "Sigma noise: 0.5"),
    ("Euler a", "Automatic", {"eta_ancestral": 0.5}, "Eta: 0.5"),
    ("DPM++ 2M SDE", "Automatic", {"eta_ancestral": 0.3}, "Eta: 0.3"),
    ("DDIM", "Automatic", {"eta_ddim": 0.7}, "Eta DDIM: 0.7"),
    ("Euler", "Karras", {"sigma_min": 0.5}, "Schedule min sigma: 0.5"),
    ("Euler", "Karras", {"sigma_max": 5.0}, "Schedule max sigma: 5.0"),
    ("Euler", "Karras", {"rho": 3.0}, "Schedule rho: 3.0"),
    ("Euler", "Automatic", {"always_discard_next_to_last_sigma": True}, "Discard penultimate sigma: True"),
    ("Euler", "Automatic", {"sgm_noise_multiplier": True}, "SGM noise multiplier: True"),
    ("Euler", "Beta", {"beta_dist_alpha": 0.3}, "Beta schedule alpha: 0.3"),
]


@pytest.mark.parametrize("sampler,scheduler,options,entry", CASES, ids=[f"{c[0]}-{next(iter(c[2]))}" for c in CASES])
def test_each_sampler_option_changes_the_image_and_is_recorded(api, sampler, scheduler, options, entry):
    plain, plain_text = _run(api, sampler, scheduler)
    changed, text = _run(api, sampler, scheduler, override_settings=options)
    assert entry in text and entry not in plain_text
    assert not np.array_equal(plain, changed)


@pytest.mark.parametrize("options", [{"uni_pc_variant": "bh2"}, {"uni_pc_variant": "vary_coeff"}, {"uni_pc_order": 1}, {"uni_pc_skip_type": "logSNR"},
                                     {"uni_pc_lower_order_final": False, "uni_pc_order": 2}])
def test_uni_pc_options_change_the_image(api, options):
    plain, _ = _run(api, "UniPC")
    changed, _ = _run(api, "UniPC", override_settings=options)
    assert not np.array_equal(plain, changed)


def test_request_churn_fields_act_and_defaults_change_nothing(api):
    plain, text = _run(api, "Euler")
    assert "Sigma" not in text and "Eta" not in text
    same, _ = _run(api, "Euler", s_noise=1.0, s_churn=0.0)
    assert np.array_equal(plain, same)
    churned, text = _run(api, "Euler", s_churn=2.0)
    assert "Sigma churn: 2.0" in text and not np.array_equal(plain, churned)
    # A1111 gives Euler a no churn or noise scale: they change nothing there and are not recorded
    ancestral, _ = _run(api, "Euler a")
    untouched, text = _run(api, "Euler a", override_settings={"s_noise": 0.5})
    assert np.array_equal(ancestral, untouched) and "Sigma noise" not in text


def test_quantized_sigmas_change_the_image(api):
    plain, _ = _run(api, "Euler", "Karras")
    quantized, _ = _run(api, "Euler", "Karras", override_settings={"enable_quantization": True})
    assert not np.array_equal(plain, quantized)


def test_nv_noise_drives_ancestral_samplers_reproducibly(api):
    """With randn_source NV an ancestral sampler's start and step noise are the images' Philox streams
    (ImageRNG.next, below): the same on every run, and not torch's."""
    nv, _ = _run(api, "Euler a", override_settings={"randn_source": "NV"})
    assert np.array_equal(nv, _run(api, "Euler a", override_settings={"randn_source": "NV"})[0])
    assert not np.array_equal(nv, _run(api, "Euler a", override_settings={"randn_source": "CPU"})[0])


def test_image_rng_next_continues_each_images_stream():
    from sdwebui.engine.sampling.philox import PhiloxGenerator
    from sdwebui.engine.sampling.rng import ImageRNG

    rng = ImageRNG((4, 8, 8), [5, 6], device=torch.device("cpu"), randn_source="NV")
    first, second = rng.first(), rng.next()
    for i, seed in enumerate((5, 6)):
        g = PhiloxGenerator(seed)
        assert np.array_equal(first[i].numpy(), g.randn((4, 8, 8)))
        assert np.array_equal(second[i].numpy(), g.randn((4, 8, 8)))
    rng.reseed_for_sampler(31337)      # ENSD: the step noise restarts at seed + delta
    assert np.array_equal(rng.next()[0].numpy(), PhiloxGenerator(5 + 31337).randn((4, 8, 8)))
    cpu = ImageRNG((4, 8, 8), [5], device=torch.device("cpu"))
    cpu.first()
    g = torch.Generator().manual_seed(5)
    torch.randn((4, 8, 8), generator=g)
    assert torch.equal(cpu.next()[0], torch.randn((4, 8, 8), generator=g))


def test_negative_guidance_minimum_sigma_skips_the_negative_prompt_late(api):
    """NGMS (s_min_uncond): below that sigma every other evaluation leaves the negative prompt out (all of
    them with s_min_uncond_all); recorded as "NGMS" / "NGMS all steps"; the request field acts too."""
    plain, text = _run(api, "Euler", "Karras")
    assert "NGMS" not in text
    high, text = _run(api, "Euler", "Karras", override_settings={"s_min_uncond": 14.0})
    assert "NGMS: 14.0" in text and not np.array_equal(plain, high)
    every, text = _run(api, "Euler", "Karras", override_settings={"s_min_uncond": 14.0, "s_min_uncond_all": True})
    assert "NGMS all steps: True" in text and not np.array_equal(every, high)
    # at cfg 1 there is no negative prompt to leave out
    no_cfg, _ = _run(api, "Euler", "Karras", cfg_scale=1)
    assert np.array_equal(no_cfg, _run(api, "Euler", "Karras", cfg_scale=1, s_min_uncond=14.0)[0])
    assert np.array_equal(high, _run(api, "Euler", "Karras", s_min_uncond=14.0)[0])
    tiny, _ = _run(api, "Euler", "Karras", s_min_uncond=1e-6)      # no sigma is below it: nothing skipped
    assert np.array_equal(tiny, plain)


def test_skipping_the_negative_takes_the_prompt_as_is():
    """With every evaluation skipping the negative prompt the result is the plain prompt's (guidance 1)."""
    from sdwebui.engine.sampling.guided_unet import GuidedUNet

    class Batch:
        simple, n_uncond, cond_image_index, pooled = True, 1, [0], None
        cond_context = uncond_context = None

        def __init__(self):
            g = torch.Generator().manual_seed(0)
            self.context = torch.randn(2, 77, 32, generator=g)

    class Cond:
        batch = Batch()

        def at(self, i):
            return self.batch

    class Model:
        device, dtype, compiled, is_sdxl, is_edit, family = torch.device("cpu"), torch.float32, None, False, False, "sd1"
        seen: list = []

        def runs_as_cuda_graphs(self):
            return False

        def unet(self, x, t, encoder_hidden_states, added_cond_kwargs, return_dict):
            Model.seen.append(encoder_hidden_states.shape[0])
            return (x * encoder_hidden_states.mean(dim=(1, 2)).reshape(-1, 1, 1, 1),)

    x = torch.ones(1, 4, 2, 2)
    skipping = GuidedUNet(Model(), Cond(), images=1, cfg_scale=7.0, width=16, height=16, steps=1, total=1,
                          skip_uncond_below=(5.0, True))
    ev = skipping(x, torch.tensor(1.0), 0, scale=lambda r: r, sigma=lambda: torch.tensor([1.0]), alpha=lambda: 0.5)
    assert Model.seen[-1] == 1 and not ev.use_cfg
    assert torch.allclose(ev.out, x * Cond.batch.context[1].mean())
    guided = GuidedUNet(Model(), Cond(), images=1, cfg_scale=7.0, width=16, height=16, steps=1, total=1,
                        skip_uncond_below=(5.0, True))
    ev = guided(x, torch.tensor(1.0), 0, scale=lambda r: r, sigma=lambda: torch.tensor([9.0]), alpha=lambda: 0.5)
    assert Model.seen[-1] == 2 and ev.use_cfg         # above the sigma: the negative prompt is there
