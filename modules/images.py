"""A1111's `modules.images`: the engine's image modules (metadata, file names, grids, writing),
`save_image` (`sdwebui.services.image_saving`) and the grid functions with A1111's signatures
(`image_grid`, `draw_grid_annotations`, `draw_prompt_matrix`, `GridAnnotation`, `get_font`:
`sdwebui.services.image_grids`), which read the settings; `split_grid` / `combine_grid` / `Grid`
(`sdwebui.engine.images.tiles`) for tiled redraws."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.image_grids', 'sdwebui.engine.images.metadata', 'sdwebui.engine.images.filenames',
       'sdwebui.engine.images.grids', 'sdwebui.engine.images.tiles', 'sdwebui.engine.images.writing',
       'sdwebui.services.image_saving', extra=[
    (name, 'sdwebui.services.legacy.processing_names') for name in (
        'read_info_from_image', 'resize_image', 'flatten', 'get_next_sequence_number')])
