"""A1111's `modules.images`: the engine's image modules (metadata, file names, grids, writing) and
`save_image`, which reads the settings (`sdwebui.services.image_saving`)."""
from modules._facade import expose

expose(__name__, 'sdwebui.engine.images.metadata', 'sdwebui.engine.images.filenames',
       'sdwebui.engine.images.grids', 'sdwebui.engine.images.writing', 'sdwebui.services.image_saving', extra=[
    (name, 'sdwebui.services.legacy.processing_names') for name in (
        'read_info_from_image', 'resize_image', 'flatten', 'get_next_sequence_number', 'GridAnnotation',
        'draw_grid_annotations')])
