"""FLUX.1 from the files people have: tiny random-weight models in Black Forest Labs' layout (the
transformer alone, with ae / clip_l / t5xxl files) and ComfyUI's / Forge's all-in-one layout load
through the same code as a user's file, give FluxPipeline's latents with the same weights and noise,
keep fp8 weights in fp8, name a missing part and its folder, and generate through the API with
Forge's distilled CFG."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sdwebui.engine.models.single_file import CheckpointLoadError, load_checkpoint
from sdwebui.engine.models.tiny_dit import build_tiny_flux, tiny_t5_tokenizer_json, write_flux_parts, write_tiny_flux
from tests.test_api import SMALL, pixels


@pytest.fixture(scope="module")
def flux_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("flux")
    vae, text = root / "VAE", root / "text_encoder"
    vae.mkdir()
    text.mkdir()
    return root, vae, text


def _equal_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return set(sa) == set(sb) and all(torch.equal(sa[k], sb[k].to(sa[k].dtype)) for k in sa)


def test_bfl_files_and_all_in_one_load_every_weight(flux_dirs):
    root, vae, text = flux_dirs
    bare = write_tiny_flux(root / "flux1-dev.safetensors", "dev", half=False)
    with pytest.raises(CheckpointLoadError, match=r"VAE .*ae\.safetensors into .*VAE"):
        load_checkpoint(bare, text_encoder_dirs=[text], vae_dirs=[vae])
    write_flux_parts(vae, text, "dev", half=False)
    model = load_checkpoint(bare, text_encoder_dirs=[text], vae_dirs=[vae])
    tiny = build_tiny_flux("dev")
    assert model.is_flux and model.variant == "FLUX.1 dev" and model.uses_distilled_cfg and model.latent_channels == 16
    for ours, built in ((model.unet.transformer, tiny.transformer), (model.vae, tiny.vae),
                        (model.text_encoder, tiny.clip_l), (model.text_encoder_3, tiny.t5)):
        assert _equal_state(built, ours)
    # as released: the weights in bf16
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(bare), framework="pt") as f:
        save_file({k: f.get_tensor(k).to(torch.bfloat16) for k in f.keys()}, str(root / "flux1-dev-bf16.safetensors"),
                  metadata=f.metadata())
    bf16 = load_checkpoint(root / "flux1-dev-bf16.safetensors", text_encoder_dirs=[text], vae_dirs=[vae])
    assert _equal_state(bf16.unet.transformer, tiny.transformer.to(torch.bfloat16).float()) and bf16.dtype == torch.float32
    aio = load_checkpoint(write_tiny_flux(root / "flux-aio.safetensors", "schnell", all_in_one=True, half=False))
    schnell = build_tiny_flux("schnell")
    assert aio.variant == "FLUX.1 schnell" and not aio.uses_distilled_cfg
    assert aio.scheduler_config["flux_mu"] == 1.0 and model.scheduler_config["flux_mu"] == 1.15
    assert _equal_state(schnell.transformer, aio.unet.transformer) and _equal_state(schnell.vae, aio.vae)


def test_missing_text_encoder_and_chosen_files(flux_dirs, tmp_path):
    root, vae, _ = flux_dirs
    bare = write_tiny_flux(root / "flux1-schnell.safetensors", "schnell")
    empty = tmp_path / "text_encoder"
    empty.mkdir()
    with pytest.raises(CheckpointLoadError, match=r"clip_l text encoder .*clip_l\.safetensors into .*text_encoder"):
        load_checkpoint(bare, text_encoder_dirs=[empty], vae_dirs=[vae])
    # files under other names, chosen as Forge's forge_additional_modules does: recognised by their keys
    other = tmp_path / "elsewhere"
    other.mkdir()
    parts = write_flux_parts(other, other, "schnell")
    chosen = [parts["vae"].rename(other / "my-flux-vae.safetensors"),
              parts["clip_l"].rename(other / "L.safetensors"), parts["t5xxl"].rename(other / "big-t5.safetensors")]
    model = load_checkpoint(bare, text_encoder_dirs=[empty], vae_dirs=[empty], additional_modules=chosen)
    assert _equal_state(build_tiny_flux("schnell").clip_l.half().float(), model.text_encoder)


@pytest.mark.parametrize("variant", ["dev", "schnell"])
def test_same_latents_as_flux_pipeline(flux_dirs, variant):
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline

    from sdwebui.engine.models.t5_tokenizer import t5_tokenizer
    from sdwebui.engine.models.tokenizer import get_tokenizer
    from sdwebui.engine.prompt.encoding import ScheduledConditioning
    from sdwebui.engine.prompt.encoding_dit import prompt_encoder_for
    from sdwebui.engine.sampling import loop, samplers

    root, _, _ = flux_dirs
    model = load_checkpoint(write_tiny_flux(root / f"parity-{variant}.safetensors", variant, all_in_one=True, half=False))
    tiny = build_tiny_flux(variant)
    prompt, steps = "a photo of a red house", 6
    encoder = prompt_encoder_for(model)
    conditioning = ScheduledConditioning(encoder, [prompt], None, steps)
    conditioning.distilled_cfg_scale = 4.0
    noise = torch.randn((1, 16, 8, 8), generator=torch.Generator().manual_seed(3))
    ks = samplers.create_scheduler(*samplers.resolve("Euler", "Automatic"), model.scheduler_config)
    latents, _ = loop.sample(model, ks, noise, conditioning, steps=steps, cfg_scale=1.0, width=64, height=64,
                             generators=None)
    pipe = FluxPipeline(transformer=tiny.transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0),
                        vae=tiny.vae, text_encoder=tiny.clip_l, tokenizer=get_tokenizer("<|endoftext|>"),
                        text_encoder_2=tiny.t5, tokenizer_2=t5_tokenizer(tiny_t5_tokenizer_json()))
    embeds, pooled, _ = pipe.encode_prompt(prompt, prompt, max_sequence_length=256)
    ours, ours_pooled = encoder.encode(prompt)
    assert torch.allclose(ours, embeds, atol=1e-4) and torch.allclose(ours_pooled, pooled, atol=1e-6)
    out = pipe(prompt=prompt, num_inference_steps=steps, guidance_scale=4.0, latents=pipe._pack_latents(noise, 1, 16, 8, 8),
               sigmas=ks.sigmas(steps)[:-1].tolist(), height=64, width=64, output_type="latent",
               max_sequence_length=256).images
    reference = pipe._unpack_latents(out, 64, 64, 8)
    assert (latents - reference).abs().max() < 1e-4 * reference.abs().max()


def test_fp8_weights_stay_fp8(flux_dirs):
    root, _, _ = flux_dirs
    fp8 = load_checkpoint(write_tiny_flux(root / "flux-fp8.safetensors", "dev", all_in_one=True, fp8=True))
    full = load_checkpoint(write_tiny_flux(root / "flux-fp16.safetensors", "dev", all_in_one=True))
    dtypes = {n: p.dtype for n, p in fp8.unet.transformer.named_parameters()}
    assert dtypes["transformer_blocks.0.attn.to_q.weight"] == torch.float8_e4m3fn
    assert dtypes["single_transformer_blocks.0.proj_mlp.weight"] == torch.float8_e4m3fn
    assert fp8.variant == "FLUX.1 dev"

    a, b = _sample(fp8), _sample(full)
    assert torch.isfinite(a).all() and not torch.equal(a, b)
    assert (a - b).abs().mean() < 0.1 * b.abs().mean()      # fp8 rounding of the weights, nothing more


def test_scaled_fp8_files(flux_dirs):
    """ComfyUI's scaled fp8 (a scale per weight; the transformer's and T5's): read as the weights times
    their scales, the same result as the fp16 file within fp8's rounding."""
    root, _, _ = flux_dirs
    model = load_checkpoint(write_tiny_flux(root / "flux-scaled.safetensors", "dev", all_in_one=True, fp8="scaled"))
    full = load_checkpoint(write_tiny_flux(root / "flux-fp16-b.safetensors", "dev", all_in_one=True))
    assert model.variant == "FLUX.1 dev (scaled fp8)"
    t5 = model.text_encoder_3.state_dict()["encoder.block.0.layer.1.DenseReluDense.wo.weight"]
    reference = full.text_encoder_3.state_dict()["encoder.block.0.layer.1.DenseReluDense.wo.weight"]
    assert float((t5 - reference).abs().max() / reference.abs().max()) < 0.1   # scaled back, not raw fp8 values
    a, b = _sample(model), _sample(full)
    assert torch.isfinite(a).all() and float((a - b).norm() / b.norm()) < 0.1


def test_gguf_quantised_transformer(flux_dirs):
    """city96's GGUF layout (Q8_0 blocks, BFL names) with BFL's part files: the weights stay quantised
    (diffusers' GGUF layers) and the result is the fp16 model's within the quantisation error."""
    from diffusers.quantizers.gguf.utils import GGUFParameter

    from sdwebui.engine.models.single_file import family_of_file
    from sdwebui.engine.models.tiny_dit import write_tiny_flux_gguf

    root, vae, text = flux_dirs
    write_flux_parts(vae, text, "dev")
    path = write_tiny_flux_gguf(root / "flux1-dev-Q8_0.gguf", "dev")
    assert family_of_file(path) == "flux"
    model = load_checkpoint(path, text_encoder_dirs=[text], vae_dirs=[vae])
    assert model.variant == "FLUX.1 dev (GGUF)"
    assert isinstance(model.unet.transformer.transformer_blocks[0].attn.to_q.weight, GGUFParameter)
    full = load_checkpoint(write_tiny_flux(root / "flux1-dev-fp16.safetensors", "dev"), text_encoder_dirs=[text],
                           vae_dirs=[vae])
    a, b = _sample(model), _sample(full)
    assert torch.isfinite(a).all() and not torch.equal(a, b)
    assert float((a - b).norm() / b.norm()) < 0.02
    # a real file's architecture is read from its shapes: a quantised weight's shape counts bytes
    from sdwebui.engine.models.flux import transformer_config
    from sdwebui.engine.models.gguf_files import read_gguf
    from sdwebui.engine.models.configs import load_family_config
    from sdwebui.engine.models.dit_export import flux_to_original

    base = load_family_config("flux").unet
    quantized = read_gguf(path)
    assert isinstance(quantized["txt_in.weight"], GGUFParameter)
    assert transformer_config(quantized, base) == \
        transformer_config(flux_to_original(build_tiny_flux("dev").transformer.state_dict()), base)


def _sample(model, steps: int = 4) -> torch.Tensor:
    from sdwebui.engine.prompt.encoding import ScheduledConditioning
    from sdwebui.engine.prompt.encoding_dit import prompt_encoder_for
    from sdwebui.engine.sampling import loop, samplers

    conditioning = ScheduledConditioning(prompt_encoder_for(model), ["a red house"], None, steps)
    noise = torch.randn((1, 16, 8, 8), generator=torch.Generator().manual_seed(1))
    ks = samplers.create_scheduler(*samplers.resolve("Euler", "Automatic"), model.scheduler_config)
    return loop.sample(model, ks, noise, conditioning, steps=steps, cfg_scale=1.0, width=64, height=64,
                       generators=None)[0]


# --- through the API (the shared app; tiny-flux, an all-in-one dev file, is in its --ckpt-dir) --------

def _flux(api, **payload):
    body = {**SMALL, "cfg_scale": 1.0, **payload}
    r = api.post("/sdapi/v1/txt2img", json=body)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def flux_api(api):
    """The shared app with tiny-flux loaded (a checkpoint in override_settings would load it and the previous
    one again for every request); alpha again afterwards, whatever happened."""
    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "tiny-flux"}).status_code == 200
    yield api
    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "alpha"}).status_code == 200


def test_distilled_cfg_through_the_api(flux_api):
    api = flux_api
    a = _flux(api, seed=7, distilled_cfg_scale=2.5)
    b = _flux(api, seed=7, distilled_cfg_scale=2.5)
    c = _flux(api, seed=7, distilled_cfg_scale=6.0)
    assert np.array_equal(pixels(a["images"][0]), pixels(b["images"][0]))
    assert not np.array_equal(pixels(a["images"][0]), pixels(c["images"][0]))
    infotext = json.loads(a["info"])["infotexts"][0]
    assert "Distilled CFG Scale: 2.5" in infotext and "Model: tiny-flux" in infotext
    parsed = api.post("/sdapi/v1/png-info", json={"image": a["images"][0]}).json()["parameters"]
    assert parsed["Distilled CFG Scale"] == "2.5"
    hires = _flux(api, seed=7, enable_hr=True, hr_scale=1.5, hr_upscaler="Latent", denoising_strength=0.5,
                  hr_distilled_cfg=5.0)
    assert pixels(hires["images"][0]).shape[:2] == (96, 96)
    assert "Hires Distilled CFG Scale: 5.0" in json.loads(hires["info"])["infotexts"][0]
    # an SD1 model has no guidance embedder: the field changes nothing and is not recorded
    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "alpha"}).status_code == 200
    sd1 = api.post("/sdapi/v1/txt2img", json={**SMALL, "seed": 7, "distilled_cfg_scale": 9.0}).json()
    assert "Distilled CFG" not in json.loads(sd1["info"])["infotexts"][0]


def test_family_switch_frees_memory(api, data_dir, tmp_path):
    """A Flux model of ~290 MB in memory, switched to and away from (an SD1 one) through /options: the
    model list and /memory name the families, and the process's RSS comes back down after the switch
    (the margins are wide: RSS also moves with everything else the shared process does)."""
    import gc

    import psutil

    from diffusers import FluxTransformer2DModel

    from sdwebui.engine.devices import release_freed_host_memory
    from sdwebui.engine.models.dit_export import flux_to_original
    from sdwebui.engine.models.ldm_export import save_checkpoint
    from sdwebui.engine.models.tiny import _diffusers_config
    from sdwebui.engine.models.tiny_dit import _flux_parts
    tiny = build_tiny_flux("schnell")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        big = FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=4, num_single_layers=8,
                                     attention_head_dim=64, num_attention_heads=8, joint_attention_dim=96,
                                     pooled_projection_dim=32, guidance_embeds=False, axes_dims_rope=(16, 24, 24))
    params = sum(p.numel() for p in big.parameters())
    state = {"model.diffusion_model." + k: v for k, v in flux_to_original(big.state_dict()).items()}
    parts = _flux_parts(tiny)
    state.update({"vae." + k: v for k, v in parts["vae"].items()})
    state.update({f"text_encoders.{w}.transformer." + k: v for w in ("clip_l", "t5xxl") for k, v in parts[w].items()})
    configs = dict(tiny.configs, unet=_diffusers_config(big))
    target = data_dir / "models" / "Stable-diffusion" / "flux-big.safetensors"
    save_checkpoint(state, target, metadata={"sd_webui_family": "flux", "sd_webui_config": json.dumps(configs),
                                             "sd_webui_t5_tokenizer": tiny_t5_tokenizer_json()})
    del big, state
    process = psutil.Process()
    try:
        api.post("/sdapi/v1/refresh-checkpoints")
        assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "alpha"}).status_code == 200
        gc.collect()
        release_freed_host_memory()     # what earlier tests freed is not this model's
        before = process.memory_info().rss
        assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "flux-big"}).status_code == 200
        loaded = process.memory_info().rss
        memory = api.get("/sdapi/v1/memory").json()
        assert memory["model"]["family"] == "flux" and memory["model"]["variant"] == "FLUX.1 schnell"
        assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "alpha"}).status_code == 200
        gc.collect()
        after = process.memory_info().rss
        assert api.get("/sdapi/v1/memory").json()["model"]["family"] == "sd1"
        size = params * 4                                  # fp32 on the CPU
        assert loaded - before > 0.5 * size, (before, loaded, size)
        assert after - before < 0.25 * size, (before, loaded, after, size)
    finally:
        target.unlink()
        api.post("/sdapi/v1/refresh-checkpoints")


def test_img2img_inpaint_and_a_file_without_its_parts(api, data_dir):
    first = _flux(api, prompt="a house", seed=3, override_settings={"sd_model_checkpoint": "tiny-flux"})["images"][0]
    body = {**SMALL, "prompt": "a dog", "seed": 4, "cfg_scale": 1.0, "init_images": [first], "denoising_strength": 0.6,
            "override_settings": {"sd_model_checkpoint": "tiny-flux"}}
    out = api.post("/sdapi/v1/img2img", json=body)
    assert out.status_code == 200, out.text
    result = pixels(out.json()["images"][0])
    assert not np.array_equal(result, pixels(first))
    assert np.array_equal(result, pixels(api.post("/sdapi/v1/img2img", json=body).json()["images"][0]))
    # Black Forest Labs' transformer-only file, with no ae / clip_l / t5xxl files in the folders
    from sdwebui.services import runtime as shared

    assert api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "alpha"}).status_code == 200
    bare = data_dir / "models" / "Stable-diffusion" / "flux1-bare.safetensors"
    write_tiny_flux(bare, "schnell")
    try:
        api.post("/sdapi/v1/refresh-checkpoints")
        r = api.post("/sdapi/v1/options", json={"sd_model_checkpoint": "flux1-bare"})
        assert 400 <= r.status_code < 500 and "ae.safetensors" in r.text and "VAE" in r.text
        assert shared.model_manager.sd_model.sd_checkpoint_info.model_name == "alpha"
    finally:
        bare.unlink()
        api.post("/sdapi/v1/refresh-checkpoints")
