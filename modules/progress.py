"""A1111's `modules.progress`: the task bookkeeping (`sdwebui.services.call_queue`, over the generation
queue) and the /internal/progress request and response models (`sdwebui.interfaces.api.models`)."""
from modules._facade import expose

expose(__name__, extra=[('add_task_to_queue', 'sdwebui.services.call_queue'), ('start_task', 'sdwebui.services.call_queue'), ('finish_task', 'sdwebui.services.call_queue'), ('record_results', 'sdwebui.services.call_queue'), ('create_task_id', 'sdwebui.services.call_queue'), ('recorded_results', 'sdwebui.services.call_queue'), ('finished_tasks', 'sdwebui.services.call_queue'), ('ProgressRequest', 'sdwebui.interfaces.api.models'), ('ProgressResponse', 'sdwebui.interfaces.api.models')])
