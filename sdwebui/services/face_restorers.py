"""A1111's two face restorers, GFPGAN and CodeFormer (`modules.gfpgan_model`,
`modules.codeformer_model`), on the engine's face restoration (sdwebui/engine/faces).

Their weights are the user's files in `models/GFPGAN` and `models/Codeformer` (A1111's folders;
`--gfpgan-models-path` and `--codeformer-models-path` move them), faces are found by the offline
detector (`models/opencv` YuNet file, else scikit-image's cascade). Both are registered in
`shared.face_restorers` at start, so the Extras scripts, txt2img/img2img's `restore_faces` and the
`face_restoration_model` setting use the same objects. A model is read on first use and kept
until its file changes.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from sdwebui.engine.faces import detection
from sdwebui.engine.faces.models import FaceModel, load_face_model
from sdwebui.engine.faces.restore import restore_faces as restore_with_model
from sdwebui.services import runtime, shared_items

logger = logging.getLogger(__name__)

# the cached models, by architecture: (file, its mtime and size, the model)
_loaded: dict[str, tuple[Path, tuple[float, int], FaceModel]] = {}
_lock = threading.Lock()


def _models_dir(flag: str, folder: str) -> Path:
    value = getattr(runtime.cmd_opts, flag, None) if runtime.cmd_opts is not None else None
    if value:
        return Path(value)
    models = runtime.paths.models if runtime.paths is not None else Path("models")
    return models / folder


class CommonFaceRestoration(shared_items.FaceRestoration):
    """A face restorer whose model file is in `model_path` (A1111's face_restoration_utils class)."""
    architecture = ""
    flag = ""
    folder = ""
    field = ""              # the Extras request field a missing model is reported on

    def __init__(self, model_path: str | Path | None = None):
        self._model_path = Path(model_path) if model_path else None
        self.net = None

    @property
    def model_path(self) -> Path:
        return self._model_path or _models_dir(self.flag, self.folder)

    def name(self) -> str:
        return self.architecture

    def get_device(self) -> Any:
        return runtime.device if runtime.device is not None else "cpu"

    def load_net(self) -> FaceModel:
        """The model, read once per file version; FaceModelMissing names the folder and file."""
        with _lock:
            cached = _loaded.get(self.architecture)
            if cached is not None:
                path, stamp, model = cached
                try:
                    st = path.stat()
                    if (st.st_mtime, st.st_size) == stamp and path.parent == self.model_path:
                        self.net = model.net
                        return model
                except OSError:
                    pass
            model = load_face_model(self.model_path, self.architecture, self.field)
            st = model.path.stat()
            _loaded[self.architecture] = (model.path, (st.st_mtime, st.st_size), model)
            self.net = model.net
            return model

    def restore(self, np_image: Any, w: float | None = None) -> np.ndarray:
        """The image (uint8 RGB array) with every face found restored."""
        model = self.load_net()
        detector, detector_name = detection.make_detector(_models_dir("", "opencv"))
        with model.lock:   # one image at a time through a model (it may move between devices)
            try:
                out, count = restore_with_model(np_image, model, detector, device=self.get_device(),
                                                weight=self._weight(w))
            finally:
                if runtime.opts is not None and getattr(runtime.opts, "face_restoration_unload", False):
                    model.net.to("cpu")
        logger.info("%s: %d face(s) restored (detector: %s)", self.architecture, count, detector_name)
        return out

    def _weight(self, w: float | None) -> float | None:
        return w


class FaceRestorerGFPGAN(CommonFaceRestoration):
    architecture, flag, folder, field = "GFPGAN", "gfpgan_models_path", "GFPGAN", "gfpgan_visibility"


class FaceRestorerCodeFormer(CommonFaceRestoration):
    architecture, flag, folder, field = "CodeFormer", "codeformer_models_path", "Codeformer", "codeformer_visibility"

    def _weight(self, w: float | None) -> float:
        # A1111: the code_former_weight setting when the caller gives none (txt2img's restore_faces)
        if w is None:
            w = getattr(runtime.opts, "code_former_weight", 0.5) if runtime.opts is not None else 0.5
        return float(w)


gfpgan_face_restorer: FaceRestorerGFPGAN | None = None
codeformer: FaceRestorerCodeFormer | None = None


def setup_face_restorers() -> None:
    """Register GFPGAN and CodeFormer in shared.face_restorers (once; an extension's own restorers
    stay beside them). No file is read until one is used."""
    global gfpgan_face_restorer, codeformer
    if gfpgan_face_restorer is None:
        gfpgan_face_restorer = FaceRestorerGFPGAN()
        codeformer = FaceRestorerCodeFormer()
    for restorer in (codeformer, gfpgan_face_restorer):
        if restorer not in shared_items.face_restorers:
            shared_items.face_restorers.append(restorer)


def gfpgan_fix_faces(np_image: Any) -> np.ndarray:
    """A1111's gfpgan_model.gfpgan_fix_faces."""
    setup_face_restorers()
    return gfpgan_face_restorer.restore(np_image)


def restorer_named(name: str, field: str = "face_restoration_model") -> shared_items.FaceRestoration:
    """The registered face restorer called `name` (case-insensitive); a 4xx naming the choices if none."""
    from sdwebui.engine.errors import ProcessingError

    setup_face_restorers()
    for restorer in shared_items.face_restorers:
        if restorer.name().lower() == str(name).lower():
            return restorer
    names = ", ".join(r.name() for r in shared_items.face_restorers)
    raise ProcessingError(field, f"{field}: no face restorer named {name!r}; choose from {names}")


def setup_model(dirname: str | None = None) -> None:
    """A1111's gfpgan_model/codeformer_model.setup_model: the restorers are registered (the folder
    comes from the flags here)."""
    setup_face_restorers()


def blend_restored(original: Image.Image, restored: np.ndarray, visibility: float) -> Image.Image:
    """The restored RGB pixels over the original (whose alpha is kept), mixed by `visibility`."""
    result = Image.fromarray(restored)
    if original.mode == "RGBA":
        result.putalpha(original.getchannel("A"))
    elif original.mode != "RGB":
        original = original.convert("RGB")
    return result if visibility >= 1.0 else Image.blend(original, result, float(visibility))


def download_and_cache_models() -> str:
    """A1111's autocrop.download_and_cache_models: the YuNet face detector's file. Nothing is
    downloaded here: the file must be in models/opencv already (FileNotFoundError otherwise, and
    the focal-point crop uses the bundled cascade instead, as A1111 falls back to its Haar one)."""
    folder = _models_dir("", "opencv")
    found = detection.find_yunet(folder)
    if found is None:
        raise FileNotFoundError(f"no YuNet face detection model ({detection.YUNET_GLOB}) in {folder}")
    return str(found)


def prepare_restore_faces() -> Callable[[np.ndarray], np.ndarray]:
    """txt2img/img2img's restore_faces: the face_restoration_model setting's restorer, its model
    read now (a missing file is a 4xx on `restore_faces` naming the file and folder), and the
    function that restores an image with it: A1111's modules.face_restoration.restore_faces, looked
    up at each call so an extension that replaces it is used."""
    from sdwebui.engine.errors import ProcessingError
    from sdwebui.engine.faces.models import FaceModelMissing

    name = getattr(runtime.opts, "face_restoration_model", None) if runtime.opts is not None else None
    restorer = restorer_named(name or "CodeFormer", "face_restoration_model")
    if isinstance(restorer, CommonFaceRestoration):
        try:
            restorer.load_net()
        except FaceModelMissing as e:
            raise ProcessingError("restore_faces", f"restore_faces: {e}") from e
    return lambda np_image: shared_items.restore_faces(np_image)
