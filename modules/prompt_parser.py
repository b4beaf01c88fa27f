"""A1111's `modules.prompt_parser`: the prompt language's stages (`sdwebui.engine.prompt`)."""
from modules._facade import expose

expose(__name__, 'sdwebui.engine.prompt.attention', 'sdwebui.engine.prompt.scheduling',
       'sdwebui.engine.prompt.composable', 'sdwebui.engine.prompt.extra_networks', extra=[
    (name, 'sdwebui.services.legacy.processing_names') for name in (
        'ScheduledPromptConditioning', 'ComposableScheduledPromptConditioning', 'MulticondLearnedConditioning',
        'get_learned_conditioning', 'get_multicond_learned_conditioning', 'reconstruct_cond_batch',
        'reconstruct_multicond_batch')])
