"""The X/Y/Z plot from the txt2img UI, as a user runs it: pick the script, the axes and their values,
Generate; the gallery shows the grid first, with the plot's infotext."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.browser.test_ui_browser import (GENERATE_TIMEOUT_MS, choose, expect, fill_txt2img, gallery_images,
                                          image_bytes, job_over)

pytestmark = pytest.mark.browser



def test_xyz_plot_from_the_ui_shows_the_grid_in_the_gallery(page):
    fill_txt2img(page, prompt="a plotted cat", steps=1, seed=77)
    choose(page, "txt2img_script_list", "X/Y/Z plot")
    expect(page.locator("#script_txt2img_xyz_plot_x_type")).to_be_visible()
    choose(page, "script_txt2img_xyz_plot_x_type", "Steps")
    page.locator("#script_txt2img_xyz_plot_x_values textarea").fill("1-2")
    choose(page, "script_txt2img_xyz_plot_y_type", "CFG Scale")
    page.locator("#script_txt2img_xyz_plot_y_values textarea").fill("3, 7")
    # an axis with choices shows its dropdown and fill button; text inputs instead take the same values
    z_values = page.locator("#script_txt2img_xyz_plot_z_values")
    choose(page, "script_txt2img_xyz_plot_z_type", "Sampler")
    expect(page.locator("#xyz_grid_fill_z_tool_button")).to_be_visible()
    expect(z_values).to_be_hidden()
    page.locator("#script_txt2img_xyz_plot_csv_mode input").check()
    expect(z_values).to_be_visible()
    z_values.locator("textarea").fill("Euler, DDIM")
    page.locator("#txt2img_generate").click()

    info = page.locator("#html_info_txt2img")
    expect(info).to_contain_text("Script: X/Y/Z plot", timeout=GENERATE_TIMEOUT_MS)
    expect(info).to_contain_text("X Type: Steps")
    expect(info).to_contain_text("Y Type: CFG Scale")
    expect(info).to_contain_text("Z Type: Sampler")
    job_over(page)
    expect(gallery_images(page).first).to_be_visible()
    grid = Image.open(io.BytesIO(image_bytes(page)))
    # two grids (Euler, DDIM) side by side, each 2 x 2 cells of 64 px with the row titles' column (3/4 of
    # a cell) on the left and the titles on top
    assert grid.width == 2 * (2 * 64 + 48) and grid.height > 2 * 64, grid.size
