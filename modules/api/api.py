"""A1111's `modules.api.api`: `Api` (sdwebui.interfaces.api.routes) and the helpers the API's files
and the request services hold (run_job, decode_base64_image, processing_args, the auth checks ...)."""
from modules._facade import expose

expose(__name__, 'sdwebui.interfaces.api.routes', 'sdwebui.interfaces.api.generation',
       'sdwebui.interfaces.api.jobs', 'sdwebui.interfaces.api.auth', 'sdwebui.interfaces.api.middleware',
       'sdwebui.interfaces.api.options', 'sdwebui.interfaces.api.control', 'sdwebui.interfaces.api.resources',
       'sdwebui.interfaces.api.info', 'sdwebui.services.generation_requests', 'sdwebui.services.request_errors')
