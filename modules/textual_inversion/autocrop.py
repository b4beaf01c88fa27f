"""A1111's `modules.textual_inversion.autocrop`: the focal-point crop (`sdwebui.engine.images.autocrop`);
`download_and_cache_models` finds the YuNet file in models/opencv and downloads nothing
(`sdwebui.services.face_restorers`)."""
from modules._facade import expose

expose(__name__, 'sdwebui.engine.images.autocrop',
       extra=[('download_and_cache_models', 'sdwebui.services.face_restorers')])
