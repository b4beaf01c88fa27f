"""Request and response models of /sdapi/v1 with A1111's field names and API defaults.

Differences from A1111 (see docs/compatibility.md): sizes must be multiples of 8 and within
a pixel limit, counts and steps have sane bounds, and bad values are a 422 naming the field
instead of a silent fallback or a 500. `null` is accepted for every field and means the
default, as in A1111 where every field is Optional.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sdwebui.interfaces.api import pydantic_v1_names

# extensions subclass `StableDiffusionTxt2ImgProcessingAPI.__config__` (pydantic 1's class config)
pydantic_v1_names.install()

MAX_STEPS = 1000
MAX_BATCH = 64
MAX_ITER = 1000
MAX_SIDE = 16384
# A prompt of 1 MB keeps the one generation worker busy for minutes (parsing and tokenizing every
# 75-token chunk) before a single step runs; 64 Ki characters is far beyond any real prompt.
MAX_PROMPT_CHARS = 65536


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            fields = cls.model_fields
            return {k: v for k, v in data.items()
                    if not (v is None and k in fields and fields[k].default is not None)}
        return data


def _multiple_of_8(value: int, field: str) -> int:
    if value % 8:
        raise ValueError(f"{field} must be a multiple of 8 (got {value}); try {max(8, round(value / 8) * 8)}")
    return value


class StableDiffusionProcessingAPI(_Request):
    prompt: str = Field("", max_length=MAX_PROMPT_CHARS)
    negative_prompt: str = Field("", max_length=MAX_PROMPT_CHARS)
    styles: list[str] | None = None
    seed: int = Field(-1, ge=-1)
    subseed: int = Field(-1, ge=-1)
    subseed_strength: float = Field(0.0, ge=0.0, le=1.0)
    seed_resize_from_h: int = Field(-1, ge=-1, le=MAX_SIDE)
    seed_resize_from_w: int = Field(-1, ge=-1, le=MAX_SIDE)
    sampler_name: str | None = None
    scheduler: str | None = None
    batch_size: int = Field(1, ge=1, le=MAX_BATCH)
    n_iter: int = Field(1, ge=1, le=MAX_ITER)
    steps: int = Field(50, ge=1, le=MAX_STEPS)
    cfg_scale: float = Field(7.0, ge=0.0, le=100.0)
    distilled_cfg_scale: float = Field(3.5, ge=0.0, le=30.0, description="Forge's: the guidance FLUX.1 dev takes "
                                       "through its guidance embedder (\"Distilled CFG Scale\"); other models ignore it")
    width: int = Field(512, ge=64, le=MAX_SIDE)
    height: int = Field(512, ge=64, le=MAX_SIDE)
    restore_faces: bool | None = None
    tiling: bool | None = None
    do_not_save_samples: bool = False
    do_not_save_grid: bool = False
    eta: float | None = None
    denoising_strength: float | None = Field(None, ge=0.0, le=1.0)
    s_min_uncond: float | None = None
    s_churn: float | None = None
    s_tmax: float | None = None
    s_tmin: float | None = None
    s_noise: float | None = None
    override_settings: dict[str, Any] | None = None
    override_settings_restore_afterwards: bool = True
    refiner_checkpoint: str | None = None
    refiner_switch_at: float | None = None
    disable_extra_networks: bool = False
    firstpass_image: str | None = None
    comments: dict[str, Any] | None = None
    # API-only
    sampler_index: str = "Euler"
    script_name: str | None = None
    script_args: list[Any] = Field(default_factory=list)
    send_images: bool = True
    save_images: bool = False
    alwayson_scripts: dict[str, Any] = Field(default_factory=dict)
    force_task_id: str | None = None
    infotext: str | None = Field(None, max_length=MAX_PROMPT_CHARS)

    @field_validator("width")
    @classmethod
    def _width(cls, v: int) -> int:
        return _multiple_of_8(v, "width")

    @field_validator("height")
    @classmethod
    def _height(cls, v: int) -> int:
        return _multiple_of_8(v, "height")


class StableDiffusionTxt2ImgProcessingAPI(StableDiffusionProcessingAPI):
    enable_hr: bool = False
    denoising_strength: float | None = Field(None, ge=0.0, le=1.0)
    firstphase_width: int = 0
    firstphase_height: int = 0
    hr_scale: float = Field(2.0, gt=0.0, le=8.0)
    hr_upscaler: str | None = None
    hr_second_pass_steps: int = Field(0, ge=0, le=MAX_STEPS)
    hr_resize_x: int = Field(0, ge=0, le=MAX_SIDE)
    hr_resize_y: int = Field(0, ge=0, le=MAX_SIDE)
    hr_checkpoint_name: str | None = None
    hr_sampler_name: str | None = None
    hr_scheduler: str | None = None
    hr_prompt: str = Field("", max_length=MAX_PROMPT_CHARS)
    hr_negative_prompt: str = Field("", max_length=MAX_PROMPT_CHARS)
    hr_cfg: float | None = Field(None, ge=0.0, le=100.0,
                                 description="CFG scale of the hires pass; null or 0: cfg_scale (not in A1111 1.10)")
    hr_distilled_cfg: float = Field(3.5, ge=0.0, le=30.0, description="Forge's: the hires pass's distilled CFG "
                                    "scale (FLUX.1 dev)")


class StableDiffusionImg2ImgProcessingAPI(StableDiffusionProcessingAPI):
    init_images: list[str] | None = Field(None, description="base64 images or data: URLs (required)")
    resize_mode: int = Field(0, ge=0, le=3, description="0 just resize, 1 crop and resize, 2 resize and fill, "
                                                         "3 just resize (latent upscale)")
    denoising_strength: float = Field(0.75, ge=0.0, le=1.0)
    image_cfg_scale: float | None = None
    mask: str | None = None
    mask_blur_x: int = Field(4, ge=0, le=256)
    mask_blur_y: int = Field(4, ge=0, le=256)
    mask_blur: int | None = Field(None, ge=0, le=256)
    mask_round: bool = True
    inpainting_fill: int = Field(0, ge=0, le=3, description="0 fill, 1 original, 2 latent noise, 3 latent nothing")
    inpaint_full_res: bool = Field(True, description="true = only masked (A1111's API default), false = whole picture")
    inpaint_full_res_padding: int = Field(0, ge=0, le=4096)
    inpainting_mask_invert: int = Field(0, ge=0, le=1)
    initial_noise_multiplier: float | None = Field(None, ge=0.0, le=10.0)
    latent_mask: str | None = None
    include_init_images: bool = Field(False, description="return init_images and mask in `parameters`")


class ExtrasBaseRequest(_Request):
    resize_mode: int = Field(0, ge=0, le=1, description="0 scale by upscaling_resize, 1 resize to width x height")
    show_extras_results: bool = True
    gfpgan_visibility: float = Field(0.0, ge=0.0, le=1.0)
    codeformer_visibility: float = Field(0.0, ge=0.0, le=1.0)
    codeformer_weight: float = Field(0.0, ge=0.0, le=1.0)
    upscaling_resize: float = Field(2.0, gt=0.0, le=8.0)
    upscaling_resize_w: int = Field(512, ge=1, le=MAX_SIDE)
    upscaling_resize_h: int = Field(512, ge=1, le=MAX_SIDE)
    upscaling_crop: bool = True
    upscaler_1: str = "None"
    upscaler_2: str = "None"
    extras_upscaler_2_visibility: float = Field(0.0, ge=0.0, le=1.0)
    upscale_first: bool = Field(False, description="accepted; as in A1111 1.10 the postprocessing_operation_order "
                                                    "setting decides the order")
    # not in A1111's request: its Extras API can only reach the three operations above
    max_side_length: int = Field(0, ge=0, le=MAX_SIDE, description="scale by: the longest side allowed, 0 no limit")
    scripts: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="other postprocessing scripts' arguments by script name, e.g. "
        '{"Create flipped copies": {"enable": true, "option": ["Horizontal"]}}; arguments not given take '
        "their control's default")


class ExtrasSingleImageRequest(ExtrasBaseRequest):
    image: str = Field("", description="base64 image or data: URL")


class ExtrasSingleImageResponse(BaseModel):
    html_info: str
    image: str | None = None


class FileData(BaseModel):
    data: str = Field(..., description="base64 image or data: URL")
    name: str = ""


class ExtrasBatchImagesRequest(ExtrasBaseRequest):
    imageList: list[FileData]


class ExtrasBatchImagesResponse(BaseModel):
    html_info: str
    images: list[str]


class LoraItem(BaseModel):
    name: str
    alias: str
    path: str
    metadata: dict[str, Any]


class UpscalerItem(BaseModel):
    name: str
    model_name: str | None
    model_path: str | None
    model_url: str | None
    scale: float | None


class RealesrganItem(BaseModel):
    name: str
    path: str | None
    scale: int | None


class TextToImageResponse(BaseModel):
    images: list[str] | None = Field(None, description="The generated images in base64 format.")
    parameters: dict[str, Any]
    info: str


class ImageToImageResponse(BaseModel):
    images: list[str] | None = Field(None, description="The generated images in base64 format.")
    parameters: dict[str, Any]
    info: str


class ProgressResponse(BaseModel):
    progress: float
    eta_relative: float
    state: dict[str, Any]
    current_image: str | None = None
    textinfo: str | None = None


class SamplerItem(BaseModel):
    name: str
    aliases: list[str]
    options: dict[str, str]


class SchedulerItem(BaseModel):
    name: str
    label: str
    aliases: list[str] | None
    default_rho: float
    need_inner_model: bool | None


class SDModelItem(BaseModel):
    title: str
    model_name: str
    hash: str | None
    sha256: str | None
    filename: str
    config: str | None
    family: str | None = Field(None, description="sd1, sd2, sdxl, sdxl-refiner, sd3 or flux, read from the file "
                                                 "(not in A1111)")


class SDVaeItem(BaseModel):
    model_name: str
    filename: str


class LatentUpscalerModeItem(BaseModel):
    name: str


class SDModuleItem(BaseModel):
    model_name: str
    filename: str


class HypernetworkItem(BaseModel):
    name: str
    path: str | None


class FaceRestorerItem(BaseModel):
    name: str
    cmd_dir: str | None


class PromptStyleItem(BaseModel):
    name: str
    prompt: str | None
    negative_prompt: str | None


class EmbeddingItem(BaseModel):
    step: int | None
    sd_checkpoint: str | None
    sd_checkpoint_name: str | None
    shape: int
    vectors: int
    reason: str | None = Field(None, description="why a skipped embedding does not fit the loaded model "
                                                 "(not in A1111)")


class EmbeddingsResponse(BaseModel):
    loaded: dict[str, EmbeddingItem]
    skipped: dict[str, EmbeddingItem]


class MemoryResponse(BaseModel):
    ram: dict[str, Any]
    cuda: dict[str, Any]
    model: dict[str, Any] | None = Field(None, description="the resident checkpoint: title, family, variant "
                                                           "(not in A1111)")
    workers: list[dict[str, Any]] | None = Field(
        None, description="in cluster mode, each worker's ram and cuda in the same shape, with its replica, node, "
                          "device, gpus and checkpoint; ram and cuda above are then the front end's (not in A1111)")


class ScriptsList(BaseModel):
    txt2img: list[str]
    img2img: list[str]


class ScriptArg(BaseModel):
    label: str | None = None
    value: Any = None
    minimum: Any = None
    maximum: Any = None
    step: Any = None
    choices: list[Any] | None = None


class ScriptInfo(BaseModel):
    name: str | None
    is_alwayson: bool | None
    is_img2img: bool | None
    args: list[ScriptArg]


class ExtensionItem(BaseModel):
    name: str
    remote: str
    branch: str
    commit_hash: str
    version: str
    commit_date: int | str
    enabled: bool
    errors: list[str] = Field(default_factory=list, description="why it failed to load (empty: it did not)")


class InterrogateRequest(BaseModel):
    image: str = ""
    model: str = "clip"


class ProgressRequest(BaseModel):
    id_task: str | None = None
    id_live_preview: int = -1
    live_preview: bool = True


class PNGInfoRequest(BaseModel):
    image: str


class PNGInfoResponse(BaseModel):
    info: str
    items: dict[str, Any]
    parameters: dict[str, Any]
