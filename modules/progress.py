"""A1111's `modules.progress`: the task bookkeeping (`sdwebui.services.call_queue`, over the generation
queue: `current_task` and `pending_tasks` are the queue's, read at each access) and the
/internal/progress request and response models (`sdwebui.interfaces.api.models`)."""
from modules._facade import expose
from sdwebui.services import call_queue

_TASKS = "sdwebui.services.call_queue"
expose(__name__, extra=[
    *[(name, _TASKS) for name in ("add_task_to_queue", "start_task", "finish_task", "record_results",
                                  "create_task_id", "recorded_results", "finished_tasks")],
    *[(name, "sdwebui.interfaces.api.models") for name in ("ProgressRequest", "ProgressResponse")],
], computed={"current_task": call_queue.current_task,
             "pending_tasks": lambda: dict.fromkeys(call_queue.pending_tasks())})
