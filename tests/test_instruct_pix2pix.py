"""instruct-pix2pix checkpoints: the UNet also sees the input picture's (unscaled) latents, and with an
Image CFG scale other than 1 the guidance has three rows, as A1111's combine_denoised_for_edit_model:
uncond + cfg * (cond - image) + image_cfg * (image - uncond without the picture)."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from sdwebui.engine.errors import ProcessingError
from sdwebui.engine.models.single_file import load_checkpoint
from sdwebui.engine.models.tiny import write_tiny_checkpoint
from sdwebui.engine.processing.image_latents import edit_conditioning
from sdwebui.engine.prompt.encoding import PromptEncoder, ScheduledConditioning
from sdwebui.engine.sampling import loop, samplers


@pytest.fixture(scope="module")
def edit_model(tmp_path_factory):
    path = write_tiny_checkpoint(tmp_path_factory.mktemp("ip2p") / "tiny-ip2p.safetensors", "sd1", seed=3, edit=True)
    model = load_checkpoint(path)
    assert model.is_edit and not model.is_inpainting and model.unet.config.in_channels == 8
    return model


def _picture() -> Image.Image:
    g = torch.Generator().manual_seed(4)
    return Image.fromarray((torch.rand(64, 64, 3, generator=g) * 255).to(torch.uint8).numpy())


def _one_euler_step(model, image_cfg_scale, prompt="make it red"):
    """One Euler step to sigma 0: the result is the guided denoiser's prediction."""
    cond = ScheduledConditioning(PromptEncoder(model), [prompt], ["blurry"], 1)
    noise = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(5))
    picture = edit_conditioning(model, [_picture()])
    info, schedule = samplers.resolve("Euler", None)
    ks = samplers.create_scheduler(info, schedule, model.scheduler_config)
    out, _ = loop.sample(model, ks, noise, cond, steps=1, cfg_scale=7.0, width=64, height=64, generators=None,
                         image_cond=picture, image_cfg_scale=image_cfg_scale)
    return out, noise, picture, cond, ks


def test_image_cfg_guides_with_three_rows(edit_model):
    out, noise, picture, cond, ks = _one_euler_step(edit_model, 1.5)
    sigma = ks.sigmas(1)[0]
    x = noise * sigma
    t = ks.discrete.sigma_to_t(sigma.reshape(1)).reshape(())
    batch = cond.at(0)
    uncond, text = batch.context[:1], batch.context[1:]
    x_in = x / (sigma ** 2 + 1) ** 0.5

    def eps(states, image):
        with torch.inference_mode():
            return edit_model.unet(torch.cat([x_in, image], 1), t, encoder_hidden_states=states).sample

    e_cond, e_image, e_plain = eps(text, picture), eps(uncond, picture), eps(uncond, torch.zeros_like(picture))
    guided = e_plain + 7.0 * (e_cond - e_image) + 1.5 * (e_image - e_plain)
    torch.testing.assert_close(out, x - sigma * guided, rtol=1e-4, atol=1e-4)


def test_image_cfg_one_is_plain_guidance_and_the_picture_matters(edit_model):
    one, *_ = _one_euler_step(edit_model, 1.0)
    assert torch.equal(one, _one_euler_step(edit_model, None)[0])
    assert not torch.allclose(one, _one_euler_step(edit_model, 1.5)[0])
    # the picture's latents are the VAE's mode, unscaled
    picture = edit_conditioning(edit_model, [_picture()])
    assert picture.shape == (1, 4, 8, 8)
    x = torch.from_numpy(__import__("numpy").asarray(_picture(), dtype="float32") / 127.5 - 1).permute(2, 0, 1)[None]
    with torch.inference_mode():
        mode = edit_model.vae.encode(x.to(edit_model.vae_dtype)).latent_dist.mode().float()
    torch.testing.assert_close(picture, mode, rtol=1e-4, atol=1e-4)


def test_and_with_image_cfg_is_a_clear_error(edit_model):
    with pytest.raises(ProcessingError, match="image_cfg_scale|Image CFG"):
        _one_euler_step(edit_model, 1.5, prompt="red AND blue")


def test_txt2img_on_an_edit_model_sees_no_picture(edit_model):
    cond = loop.txt2img_image_conditioning(edit_model, 2, 64, 64)
    assert cond.shape == (2, 4, 8, 8) and not cond.any()
