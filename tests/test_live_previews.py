"""Live previews as A1111 makes them: the step's predicted result (x0) by `live_preview_content`, decoded
by `show_progress_type` (Full, Approx NN, Approx cheap, TAESD: the two networks from A1111's weight
files, made here with random weights in the files' own layout), only when a client asks and every
`show_progress_every_n_steps`; and `sd_vae_decode_method` / `sd_vae_encode_method` with TAESD."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from sdwebui.engine.models.preview_decoders import (PreviewDecoders, PreviewModelMissing, VAEApprox, taesd_decoder,
                                                    taesd_encoder)
from sdwebui.engine.models.single_file import load_checkpoint
from sdwebui.engine.sampling import loop as sampling, previews


@pytest.fixture(scope="module")
def sd1(tiny_files):
    return load_checkpoint(tiny_files["sd1"])


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A1111's preview weight files (random weights, the published files' key layout)."""
    folder = tmp_path_factory.mktemp("VAE-approx")
    torch.manual_seed(0)
    torch.save(VAEApprox().state_dict(), folder / "model.pt")
    torch.save(taesd_decoder().state_dict(), folder / "taesd_decoder.pth")
    torch.save(taesd_encoder().state_dict(), folder / "taesd_encoder.pth")
    return folder


def test_the_networks_have_the_published_files_key_layout():
    approx = VAEApprox().state_dict()
    assert [k for k in approx if k.endswith("weight")] == [f"conv{i}.weight" for i in range(1, 9)]
    assert approx["conv1.weight"].shape == (8, 4, 7, 7) and approx["conv8.weight"].shape == (3, 8, 3, 3)
    dec = taesd_decoder().state_dict()    # 0 is the soft clamp, 1 the first conv, blocks hold conv/skip/fuse
    assert dec["1.weight"].shape == (64, 4, 3, 3) and dec["19.weight"].shape == (3, 64, 3, 3)
    assert "3.conv.0.weight" in dec and "7.weight" in dec and "7.bias" not in dec
    enc = taesd_encoder().state_dict()
    assert enc["0.weight"].shape == (64, 3, 3, 3) and enc["14.weight"].shape == (4, 64, 3, 3)


def test_each_method_decodes_at_its_own_size(sd1, weights):
    decoders = PreviewDecoders([weights], [weights])
    torch.manual_seed(1)
    latents = torch.randn(2, 4, 8, 8)
    full = previews.latents_to_rgb(sd1, latents, "Full", decoders)
    assert full.shape == (2, 3, 64, 64) and torch.equal(full, sampling.decode(sd1, latents))
    cheap = previews.latents_to_rgb(sd1, latents, "Approx cheap", decoders)
    assert cheap.shape == (2, 3, 8, 8) and 0 <= float(cheap.min()) and float(cheap.max()) <= 1
    nn_rgb = previews.latents_to_rgb(sd1, latents, "Approx NN", decoders)
    expected = ((decoders.approx_nn(sd1)(latents.to(sd1.vae_dtype)).float() + 1) / 2).clamp(0, 1)
    assert nn_rgb.shape == (2, 3, 16, 16) and torch.allclose(nn_rgb, expected)
    taesd = previews.latents_to_rgb(sd1, latents, "TAESD", decoders)
    assert taesd.shape == (2, 3, 64, 64) and not torch.allclose(taesd, full, atol=0.05)
    images = previews.to_images(cheap, (64, 64))
    assert [im.size for im in images] == [(64, 64)] * 2


def test_a_missing_weights_file_falls_back_to_the_cheap_preview_and_says_where(sd1, tmp_path, caplog):
    decoders = PreviewDecoders([tmp_path], [tmp_path])
    with pytest.raises(PreviewModelMissing, match="model.pt not found in"):
        decoders.approx_nn(sd1)
    latents = torch.randn(1, 4, 8, 8)
    with caplog.at_level(logging.WARNING):
        rgb = previews.latents_to_rgb(sd1, latents, "TAESD", decoders)
    assert torch.equal(rgb, previews.approximate_rgb_batch(sd1, latents))
    assert "taesd_decoder.pth not found" in caplog.text


def test_full_previews_of_an_offloaded_model_use_approx_nn_unless_allowed(sd1):
    assert previews.effective_method(sd1, "Full") == "Full"
    sd1.offload = "model"
    try:
        assert previews.effective_method(sd1, "Full") == "Approx NN"
        assert previews.effective_method(sd1, "Full", allow_offloaded_full=True) == "Full"
    finally:
        sd1.offload = None


def _sample_with_steps(model, sampler: str, steps: int = 4):
    from sdwebui.engine.prompt.encoding import PromptEncoder, ScheduledConditioning
    from sdwebui.engine.sampling import samplers

    cond = ScheduledConditioning(PromptEncoder(model), ["a red circle"], ["blue"], steps)
    noise = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(3))
    info, schedule = samplers.resolve(sampler, "Automatic")
    scheduler = samplers.create_scheduler(info, schedule, model.scheduler_config)
    seen = []
    latents, _ = sampling.sample(model, scheduler, noise, cond, steps=steps, cfg_scale=7.0, width=64, height=64,
                                 generators=None, callback=seen.append)
    return latents, seen


@pytest.mark.parametrize("sampler,atol,steps", [("Euler", 1e-3, 4), ("DDIM", 0.1, 3)])
def test_the_predicted_result_of_the_last_step_is_the_result(sd1, sampler, atol, steps):
    """Euler's last step (to sigma 0) lands exactly on the model's x0 prediction, DDIM's nearly (it stops
    at alphas_cumprod[1]): the preview latent of the last step (after guidance) is the result. (A1111's
    DDIM makes 3 steps of 4: its timesteps 1, 251, 501, 751, the lowest only the last step's target.)"""
    latents, seen = _sample_with_steps(sd1, sampler)
    assert [s.step for s in seen] == list(range(1, steps + 1))
    last = seen[-1].denoised("Combined")
    assert torch.allclose(last, latents, atol=atol), float((last - latents).abs().max())
    first = seen[0]
    prompt, negative = first.denoised("Prompt"), first.denoised("Negative prompt")
    assert prompt.shape == negative.shape == latents.shape and not torch.allclose(prompt, negative)
    assert not torch.allclose(first.denoised("Combined"), first.latents)


def test_previews_are_made_when_asked_every_n_steps_with_the_chosen_method(api):
    from modules import script_callbacks, shared

    state = shared.state
    made = []
    original_assign = state.assign_current_image

    blocky = []     # Approx cheap is the latent's colours scaled up by 8 (nearest): uniform 8x8 blocks

    def record(image):
        made.append((state.sampling_step, image.size))
        a = np.asarray(image.convert("RGB")).reshape(8, 8, 8, 8, 3)
        blocky.append(bool((a == a[:, :1, :, :1]).all()))
        original_assign(image)

    def ask(_params):   # a client polling progress with live_preview on, before every step's callback
        state.request_live_preview()

    state.assign_current_image = record
    script_callbacks.on_cfg_after_cfg(ask, name="test_live_previews")
    try:
        payload = {"prompt": "a cat", "steps": 6, "width": 64, "height": 64, "seed": 1, "sampler_name": "Euler",
                   "override_settings": {"show_progress_every_n_steps": 2, "show_progress_type": "Full",
                                         "live_preview_content": "Combined"}}
        assert api.post("/sdapi/v1/txt2img", json=payload).status_code == 200
        assert made == [(2, (64, 64)), (4, (64, 64))]     # never at the last step: the result follows
        assert blocky == [False, False]                   # Full: the VAE's picture
        made.clear()
        blocky.clear()
        payload["override_settings"].update(show_progress_every_n_steps=1, show_progress_type="Approx cheap")
        assert api.post("/sdapi/v1/txt2img", json=payload).status_code == 200
        assert made == [(s, (64, 64)) for s in range(1, 6)] and all(blocky)
        made.clear()
        payload["override_settings"].update(live_previews_enable=False)
        assert api.post("/sdapi/v1/txt2img", json=payload).status_code == 200
        assert made == []
    finally:
        del state.assign_current_image
        script_callbacks.remove_callbacks_for_function(ask)


def test_nobody_asking_means_no_preview_is_decoded(api):
    from modules import shared

    state = shared.state
    made = []
    state.assign_current_image = lambda image: made.append(image)
    state.live_preview_wanted = False
    try:
        payload = {"prompt": "a cat", "steps": 4, "width": 64, "height": 64,
                   "override_settings": {"show_progress_every_n_steps": 1, "show_progress_type": "Full"}}
        assert api.post("/sdapi/v1/txt2img", json=payload).status_code == 200
        assert made == []
    finally:
        del state.assign_current_image


def test_taesd_decode_and_encode_methods(sd1, weights):
    """sd_vae_decode_method / sd_vae_encode_method "TAESD" use the Tiny AutoEncoder; without its files
    the full VAE does the work (never a worse image than asked for)."""
    from types import SimpleNamespace

    from PIL import Image

    from sdwebui.engine.processing.image_latents import decode_latents, encode_images

    latents = torch.randn(1, 4, 8, 8)
    opts = SimpleNamespace(sd_vae_decode_method="TAESD", sd_vae_encode_method="TAESD", vae_tiled_min_size=0)
    ctx = SimpleNamespace(opts=opts, preview_decoders=PreviewDecoders([weights], [weights]))
    fast = decode_latents(ctx, sd1, latents)
    assert torch.equal(fast, previews.latents_to_rgb(sd1, latents, "TAESD", ctx.preview_decoders))
    image = Image.new("RGB", (64, 64), (200, 30, 30))
    encoded = encode_images(sd1, [image], 0, ctx)
    assert encoded.shape == (1, 4, 8, 8)
    assert not torch.allclose(encoded, encode_images(sd1, [image]))
    missing = SimpleNamespace(opts=opts, preview_decoders=PreviewDecoders([], []))
    assert torch.equal(decode_latents(missing, sd1, latents), sampling.decode(sd1, latents))
    assert torch.equal(encode_images(sd1, [image], 0, missing), encode_images(sd1, [image]))


def test_an_interrupt_with_fast_interrupt_returns_the_preview_methods_image(api):
    import base64
    import io

    import numpy as np
    from PIL import Image

    from modules import script_callbacks, shared

    def stop(params):
        if params.sampling_step == 1:
            shared.state.interrupt()

    script_callbacks.on_cfg_after_cfg(stop, name="test_live_previews")
    try:
        def run(fast: bool) -> np.ndarray:
            payload = {"prompt": "a cat", "steps": 6, "width": 64, "height": 64, "seed": 2,
                       "override_settings": {"live_preview_fast_interrupt": fast, "show_progress_type": "Approx cheap"}}
            r = api.post("/sdapi/v1/txt2img", json=payload)
            assert r.status_code == 200, r.text
            image = Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0])))
            return np.asarray(image.convert("RGB"))

        fast, full = run(True), run(False)
    finally:
        script_callbacks.remove_callbacks_for_function(stop)
    blocks = fast.reshape(8, 8, 8, 8, 3)          # the latent's colours, one 8x8 block per latent pixel
    assert (blocks == blocks[:, :1, :, :1]).all()
    assert not (full.reshape(8, 8, 8, 8, 3) == full.reshape(8, 8, 8, 8, 3)[:, :1, :, :1]).all()
