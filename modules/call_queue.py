"""A1111's `modules.call_queue`: `sdwebui.services.call_queue` (the queue lock the generation queue's
worker holds, and the UI call wrappers)."""
from modules._facade import expose

expose(__name__, extra=[('queue_lock', 'sdwebui.services.call_queue'), ('wrap_queued_call', 'sdwebui.services.call_queue'), ('wrap_gradio_gpu_call', 'sdwebui.services.call_queue'), ('wrap_gradio_call', 'sdwebui.services.call_queue'), ('wrap_gradio_call_no_job', 'sdwebui.services.call_queue')])
