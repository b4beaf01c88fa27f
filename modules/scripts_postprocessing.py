"""A1111's `modules.scripts_postprocessing`: `sdwebui.services.extensions.postprocessing_scripts`."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.extensions.postprocessing_scripts')
