"""A1111's `modules.postprocessing`: the Extras job (`sdwebui.services.postprocessing`: run_postprocessing,
run_extras ...) and the upscale step it runs (`sdwebui.engine.processing.extras`)."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.postprocessing', 'sdwebui.engine.processing.extras')
