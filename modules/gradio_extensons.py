"""A1111's `modules.gradio_extensons` (sic): its gradio-3 patches, as far as gradio 6 has them
(`sdwebui.interfaces.ui.gradio_compat`)."""
from modules._facade import expose

IMPL = "sdwebui.interfaces.ui.gradio_compat"
expose(__name__, extra=[(name, IMPL) for name in (
    "add_classes_to_gradio_component", "IOComponent_init", "BlockContext_init", "Block_get_config",
    "Blocks_get_config_file", "original_IOComponent_init", "original_BlockContext_init",
    "original_Block_get_config", "original_Blocks_get_config_file")])
