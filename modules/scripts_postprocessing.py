"""A1111's `modules.scripts_postprocessing`: the Extras scripts' classes
(`sdwebui.services.extensions.postprocessing_scripts`) and their runner
(`sdwebui.services.extensions.postprocessing_runner`)."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.extensions.postprocessing_scripts',
       'sdwebui.services.extensions.postprocessing_runner')
