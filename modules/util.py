"""A1111's `modules.util`: `sdwebui.services.util`."""
from modules._facade import expose

expose(__name__, extra=[('natural_sort_key', 'sdwebui.services.util'), ('listfiles', 'sdwebui.services.util'), ('html_path', 'sdwebui.services.util'), ('html', 'sdwebui.services.util'), ('walk_files', 'sdwebui.services.util'), ('ldm_print', 'sdwebui.services.util'), ('truncate_path', 'sdwebui.services.util'), ('MassFileLister', 'sdwebui.services.util'), ('topological_sort', 'sdwebui.services.util'), ('open_folder', 'sdwebui.services.util'), ('load_file_from_url', 'sdwebui.services.util'), ('cwd', 'sdwebui.services.util')])
