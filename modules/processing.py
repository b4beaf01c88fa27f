"""A1111's `modules.processing`: `process_images` from `sdwebui.services.generation` (it gives a job its
context), the processing objects, `Processed` and the helpers from `sdwebui.engine.processing`."""
from modules._facade import expose

# the first module that has a name owns it (assignments go there): each engine module is listed
# before those that import names from it
expose(__name__, 'sdwebui.services.generation', 'sdwebui.engine.processing.image_latents',
       'sdwebui.engine.processing.base', 'sdwebui.engine.processing.processed', 'sdwebui.engine.processing.infotext',
       'sdwebui.engine.processing.outputs', 'sdwebui.engine.processing.generate', 'sdwebui.engine.processing.txt2img',
       'sdwebui.engine.processing.img2img', extra=[
    (name, 'sdwebui.services.legacy.processing_names') for name in (
        'opt_C', 'opt_f', 'create_binary_mask', 'uncrop', 'create_random_tensors', 'apply_overlay',
        'apply_color_correction', 'setup_color_correction')])
