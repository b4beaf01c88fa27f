"""SD3 / SD3.5 from single files: tiny random-weight models in the released files' key layout load
through the same code as a user's file, give diffusers' StableDiffusion3Pipeline's image with the
same weights and noise, and generate through the API (T5 on and off, samplers, sizes, img2img, hires)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sdwebui.engine.models.sd3 import transformer_config, variant_name
from sdwebui.engine.models.single_file import CheckpointLoadError, load_checkpoint
from sdwebui.engine.models.tiny_dit import SD3_VARIANTS, build_tiny_sd3, tiny_t5_tokenizer_json, write_sd3_part, \
    write_tiny_sd3
from tests.test_api import SMALL, pixels


@pytest.fixture(scope="module")
def sd3_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sd3")


def _equal_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return set(sa) == set(sb) and all(torch.equal(sa[k], sb[k].to(sa[k].dtype)) for k in sa)


@pytest.mark.parametrize("variant", list(SD3_VARIANTS))
def test_tiny_files_load_every_weight(sd3_dir, variant):
    path = write_tiny_sd3(sd3_dir / f"{variant}.safetensors", variant, half=False)
    model = load_checkpoint(path, enable_t5=True)
    tiny = build_tiny_sd3(variant)
    assert model.is_sd3 and model.family == "sd3" and not model.is_sdxl and model.latent_channels == 16
    assert model.variant == {"sd3": "SD3 Medium", "sd35-medium": "SD3.5 Medium", "sd35-large": "SD3.5"}[variant]
    for ours, built in ((model.unet.transformer, tiny.transformer), (model.vae, tiny.vae),
                        (model.text_encoder, tiny.clip_l), (model.text_encoder_2, tiny.clip_g),
                        (model.text_encoder_3, tiny.t5)):
        assert _equal_state(built, ours)


def test_released_architectures_are_read_from_the_shapes():
    """A full-size SD3 Medium and SD3.5 Large, built on the meta device and written in the original
    names, are recognised from their tensors alone (layers, width, qk-norm)."""
    from accelerate import init_empty_weights
    from diffusers import SD3Transformer2DModel

    from sdwebui.engine.models.configs import load_family_config
    from sdwebui.engine.models.dit_export import sd3_to_original

    shipped = load_family_config("sd3").unet
    large = {**shipped, "num_layers": 38, "num_attention_heads": 38, "caption_projection_dim": 2432, "qk_norm": "rms_norm"}
    # the published sizes: 2.03 B (SD3 Medium), 8.06 B (SD3.5 Large)
    for cfg, name, millions in ((shipped, "SD3 Medium", 2028), (large, "SD3.5 Large", 8056)):
        with init_empty_weights():
            transformer = SD3Transformer2DModel.from_config(cfg)
        assert sum(p.numel() for p in transformer.parameters()) // 10**6 == millions
        read = transformer_config(sd3_to_original(transformer.state_dict()), shipped)
        assert {k: read[k] for k in ("num_layers", "num_attention_heads", "caption_projection_dim", "qk_norm",
                                     "pos_embed_max_size", "joint_attention_dim", "pooled_projection_dim")} == \
               {k: cfg[k] for k in ("num_layers", "num_attention_heads", "caption_projection_dim", "qk_norm",
                                    "pos_embed_max_size", "joint_attention_dim", "pooled_projection_dim")}
        assert variant_name(read) == name


@pytest.mark.parametrize("variant,t5", [("sd3", True), ("sd35-medium", False)])
def test_same_image_as_diffusers_pipeline(sd3_dir, variant, t5):
    """Our loader, prompt encoding and Euler sampler against StableDiffusion3Pipeline on the same weights:
    the same conditioning, then the same latents and image within float noise."""
    from diffusers import FlowMatchEulerDiscreteScheduler, StableDiffusion3Pipeline

    from sdwebui.engine.models.t5_tokenizer import t5_tokenizer
    from sdwebui.engine.models.tokenizer import get_tokenizer
    from sdwebui.engine.prompt.encoding import ScheduledConditioning
    from sdwebui.engine.prompt.encoding_dit import prompt_encoder_for
    from sdwebui.engine.sampling import loop, samplers

    path = write_tiny_sd3(sd3_dir / f"parity-{variant}.safetensors", variant, half=False)
    model = load_checkpoint(path, enable_t5=t5)
    tiny = build_tiny_sd3(variant)
    prompt, negative, steps, cfg = "a photo of a red house", "blurry", 6, 5.0
    encoder = prompt_encoder_for(model)
    noise = torch.randn((1, 16, 8, 8), generator=torch.Generator().manual_seed(3))
    ks = samplers.create_scheduler(*samplers.resolve("Euler", "Automatic"), model.scheduler_config)
    sigmas = ks.sigmas(steps)
    latents, finished = loop.sample(model, ks, noise, ScheduledConditioning(encoder, [prompt], [negative], steps),
                                    steps=steps, cfg_scale=cfg, width=64, height=64, generators=None)
    assert finished
    image = loop.decode(model, latents)

    # the pipeline shifts the sigmas it is given: shift 1 takes A1111's (already shifted) schedule as it is
    pipe = StableDiffusion3Pipeline(
        transformer=tiny.transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0), vae=tiny.vae,
        text_encoder=tiny.clip_l, tokenizer=get_tokenizer("<|endoftext|>"), text_encoder_2=tiny.clip_g,
        tokenizer_2=get_tokenizer("!"), text_encoder_3=tiny.t5 if t5 else None,
        tokenizer_3=t5_tokenizer(tiny_t5_tokenizer_json()) if t5 else None)
    embeds, _, pooled, _ = pipe.encode_prompt(prompt, prompt, None, negative_prompt=negative, max_sequence_length=77)
    ours_embeds, ours_pooled = encoder.encode(prompt)
    assert ours_embeds.shape == embeds.shape == (1, 154, 96)
    assert torch.allclose(ours_embeds, embeds, atol=1e-5) and torch.allclose(ours_pooled, pooled, atol=1e-6)
    reference = pipe(prompt=prompt, negative_prompt=negative, num_inference_steps=steps, guidance_scale=cfg,
                     latents=noise.clone(), sigmas=sigmas[:-1].tolist(), height=64, width=64, output_type="latent",
                     max_sequence_length=77).images
    assert (latents - reference).abs().max() < 1e-4 * reference.abs().max()
    vae = pipe.vae.config
    ref_image = ((pipe.vae.decode(reference / vae.scaling_factor + vae.shift_factor, return_dict=False)[0] + 1) / 2)
    assert (image - ref_image.clamp(0, 1)).abs().max() < 1e-4


def test_fp8_file_with_t5(sd3_dir):
    """An fp8 all-in-one file (the transformer and T5 in float8_e4m3fn): upcast at load, same result as
    the fp16 file within the fp8 rounding."""
    from sdwebui.engine.prompt.encoding import ScheduledConditioning
    from sdwebui.engine.prompt.encoding_dit import prompt_encoder_for
    from sdwebui.engine.sampling import loop, samplers

    def sample(model):
        conditioning = ScheduledConditioning(prompt_encoder_for(model), ["a red house"], [""], 4)
        noise = torch.randn((1, 16, 8, 8), generator=torch.Generator().manual_seed(2))
        ks = samplers.create_scheduler(*samplers.resolve("Euler", "Automatic"), model.scheduler_config)
        return loop.sample(model, ks, noise, conditioning, steps=4, cfg_scale=4.0, width=64, height=64,
                           generators=None)[0]

    fp8 = load_checkpoint(write_tiny_sd3(sd3_dir / "fp8.safetensors", fp8=True), enable_t5=True)
    fp16 = load_checkpoint(write_tiny_sd3(sd3_dir / "fp16.safetensors"), enable_t5=True)
    a, b = sample(fp8), sample(fp16)
    assert torch.isfinite(a).all() and not torch.equal(a, b)
    assert float((a - b).norm() / b.norm()) < 0.2


def test_flow_schedule_is_a1111s():
    from sdwebui.engine.sampling import samplers
    from sdwebui.engine.sampling.kdiffusion.discrete import flow_sigmas

    sigmas = flow_sigmas({"shift": 3.0})
    assert len(sigmas) == 1000 and sigmas[-1] == 1.0 and abs(float(sigmas[0]) - 0.0029940) < 1e-6
    ks = samplers.create_scheduler(*samplers.resolve("Euler", "Automatic"), {"shift": 3.0, "prediction_type": "flow"})
    assert ks.sigmas(4).tolist()[0] == 1.0 and ks.sigmas(4).tolist()[-1] == 0.0
    with pytest.raises(samplers.SamplerError, match="Samplers for this model: .*Euler"):
        samplers.create_scheduler(*samplers.resolve("DDIM", "Automatic"), {"shift": 3.0, "prediction_type": "flow"})


def test_text_encoders_from_their_own_files(sd3_dir):
    """SD3.5 files hold no text encoders: CLIP-L / CLIP-G / T5 come from models/text_encoder (A1111's and
    Forge's file names); a missing one is an error that names the file and the folder."""
    bare = write_tiny_sd3(sd3_dir / "bare.safetensors", "sd35-large", with_clip=False, with_t5=False)
    folder = sd3_dir / "text_encoder"
    folder.mkdir()
    with pytest.raises(CheckpointLoadError, match=r"clip_l\.safetensors.*text_encoder"):
        load_checkpoint(bare, text_encoder_dirs=[folder])
    write_sd3_part(folder / "clip_l.safetensors", "clip_l", "sd35-large")
    write_sd3_part(folder / "clip_g.safetensors", "clip_g", "sd35-large")
    model = load_checkpoint(bare, text_encoder_dirs=[folder])
    assert model.text_encoder_3 is None
    with pytest.raises(CheckpointLoadError, match=r"t5xxl_fp16\.safetensors"):
        load_checkpoint(bare, text_encoder_dirs=[folder], enable_t5=True)
    write_sd3_part(folder / "t5xxl_fp8_e4m3fn.safetensors", "t5xxl", "sd35-large")
    model = load_checkpoint(bare, text_encoder_dirs=[folder], enable_t5=True)
    tiny = build_tiny_sd3("sd35-large")
    for ours, built in ((model.text_encoder, tiny.clip_l), (model.text_encoder_2, tiny.clip_g),
                        (model.text_encoder_3, tiny.t5)):
        assert _equal_state(built.half().float(), ours)


def test_gguf_transformer_with_its_parts(sd3_dir, tmp_path):
    """city96's SD3.5 GGUF layout: the MMDiT alone, quantised; the VAE (`sd3_vae*`, told from a Flux
    `ae` by its name) and the text encoders come from their folders."""
    from diffusers.quantizers.gguf.utils import GGUFParameter

    from sdwebui.engine.models.tiny_dit import write_tiny_sd3_gguf

    path = write_tiny_sd3_gguf(sd3_dir / "sd3.5_large-Q8_0.gguf", "sd35-large")
    vae_dir, text_dir = tmp_path / "VAE", tmp_path / "text_encoder"
    vae_dir.mkdir()
    text_dir.mkdir()
    for which in ("clip_l", "clip_g"):
        write_sd3_part(text_dir / f"{which}.safetensors", which, "sd35-large")
    with pytest.raises(CheckpointLoadError, match=r"sd3_vae\.safetensors"):
        load_checkpoint(path, text_encoder_dirs=[text_dir], vae_dirs=[vae_dir])
    write_sd3_part(vae_dir / "sd35_vae.safetensors", "vae", "sd35-large")
    model = load_checkpoint(path, text_encoder_dirs=[text_dir], vae_dirs=[vae_dir])
    assert model.variant == "SD3.5 (GGUF)"
    assert isinstance(model.unet.transformer.transformer_blocks[0].attn.to_q.weight, GGUFParameter)
    assert _equal_state(build_tiny_sd3("sd35-large").vae.half().float(), model.vae)
    # a real file's architecture is read from its shapes: a quantised weight's shape counts bytes
    from sdwebui.engine.models.configs import load_family_config
    from sdwebui.engine.models.dit_export import sd3_to_original
    from sdwebui.engine.models.gguf_files import read_gguf

    base = load_family_config("sd3").unet
    quantized = read_gguf(path)
    assert isinstance(quantized["context_embedder.weight"], GGUFParameter)
    assert transformer_config(quantized, base) == \
        transformer_config(sd3_to_original(build_tiny_sd3("sd35-large").transformer.state_dict()), base)


def test_vendored_t5_vocabulary():
    from sdwebui.engine.models.t5_tokenizer import t5_tokenizer

    tokenizer = t5_tokenizer(None, [])
    assert len(tokenizer) == 32100 and (tokenizer.pad_token_id, tokenizer.eos_token_id) == (0, 1)
    # ids as sentencepiece gives them with google/t5-v1_1-xxl's spiece.model
    assert tokenizer("a photograph of an astronaut riding a horse").input_ids == \
        [3, 9, 6419, 13, 46, 30059, 7494, 3, 9, 4952, 1]


# --- through the API (the shared app; tiny-sd3 is in its --ckpt-dir) -----------------------------

@pytest.fixture(scope="module")
def sd3_api(api):
    """The shared app with tiny-sd3 loaded for this module's API tests (a checkpoint in override_settings
    would load it and the previous one again for every request)."""
    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "tiny-sd3"}).status_code == 200
    yield api
    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "alpha"}).status_code == 200


def _sd3(api, **payload):
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, **payload})
    assert r.status_code == 200, r.text
    return r.json()


def test_generates_through_the_api(sd3_api):
    api = sd3_api
    a = _sd3(api, prompt="a (cat:1.3) in a house", seed=11)
    b = _sd3(api, prompt="a (cat:1.3) in a house", seed=11)
    c = _sd3(api, prompt="a (cat:1.3) in a house", seed=12)
    assert np.array_equal(pixels(a["images"][0]), pixels(b["images"][0]))
    assert not np.array_equal(pixels(a["images"][0]), pixels(c["images"][0]))
    infotext = json.loads(a["info"])["infotexts"][0]
    assert "Model: tiny-sd3" in infotext and "Sampler: Euler" in infotext
    # the infotext reads back into the same request, which gives the same picture
    parsed = api.post("/sdapi/v1/png-info", json={"image": a["images"][0]}).json()["parameters"]
    assert parsed["Seed"] == "11" and parsed["Prompt"] == "a (cat:1.3) in a house"


def test_t5_on_and_off(sd3_api):
    api = sd3_api
    off = _sd3(api, prompt="a red house", seed=3)
    on = _sd3(api, prompt="a red house", seed=3, override_settings={"sd3_enable_t5": True})
    again = _sd3(api, prompt="a red house", seed=3)
    assert not np.array_equal(pixels(off["images"][0]), pixels(on["images"][0]))
    assert np.array_equal(pixels(off["images"][0]), pixels(again["images"][0]))


def test_samplers_and_sizes(sd3_api):
    api = sd3_api
    r = api.post("/sdapi/v1/txt2img", json={**SMALL, "sampler_name": "DDIM"})
    assert r.status_code == 422 and "sampler_name" in r.text and "Euler" in r.text
    for sampler in ("DPM++ 2M", "Euler a", "Heun"):
        assert _sd3(api, sampler_name=sampler, seed=1)["images"]
    odd = _sd3(api, width=72, height=88, seed=1)      # 2x2 patches of 8x8 pixels: A1111 rounds down to 16
    assert pixels(odd["images"][0]).shape[:2] == (80, 64)


def test_img2img_inpaint_and_hires(sd3_api):
    api = sd3_api
    first = _sd3(api, prompt="a house", seed=5)
    hires = _sd3(api, prompt="a house", seed=5, enable_hr=True, hr_scale=2, hr_upscaler="Latent",
                 denoising_strength=0.6)
    assert pixels(hires["images"][0]).shape[:2] == (128, 128)
    body = {**SMALL, "prompt": "a dog", "seed": 4, "init_images": [first["images"][0]], "denoising_strength": 0.5}
    out = api.post("/sdapi/v1/img2img", json=body)
    assert out.status_code == 200, out.text
    again = api.post("/sdapi/v1/img2img", json=body).json()
    result = pixels(out.json()["images"][0])
    assert np.array_equal(result, pixels(again["images"][0]))
    assert not np.array_equal(result, pixels(first["images"][0]))
    from PIL import Image
    import base64
    import io
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    buf = io.BytesIO()
    mask.save(buf, format="PNG")
    inpaint = api.post("/sdapi/v1/img2img", json={**body, "mask": base64.b64encode(buf.getvalue()).decode(),
                                                   "mask_blur": 0, "inpaint_full_res": False}).json()
    painted, original = pixels(inpaint["images"][0]).astype(int), pixels(first["images"][0]).astype(int)
    assert np.abs(painted[:, 40:] - original[:, 40:]).max() <= 2       # outside the mask: kept
    assert np.abs(painted[:, :24] - original[:, :24]).mean() > 2       # inside: painted again


def test_file_without_its_text_encoders_keeps_the_previous_model(api, data_dir):
    from sdwebui.services import runtime as shared

    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "alpha"}).status_code == 200
    bare = data_dir / "models" / "Stable-diffusion" / "sd35-bare.safetensors"
    write_tiny_sd3(bare, "sd35-large", with_clip=False, with_t5=False)
    try:
        api.post("/sdapi/v1/refresh-checkpoints")
        r = api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "sd35-bare"})
        assert 400 <= r.status_code < 500
        assert "clip_l.safetensors" in r.text and "text_encoder" in r.text
        assert shared.model_manager.sd_model.sd_checkpoint_info.model_name == "alpha"
        assert _sd3(api, seed=2, override_settings={"sd_model_checkpoint": "tiny-sd3"})["images"]   # the other SD3 file
    finally:
        bare.unlink()
        api.post("/sdapi/v1/refresh-checkpoints")
