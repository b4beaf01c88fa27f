"""Control added to the denoiser: ControlNet (and later T2I-Adapters) turn a control image into
residuals the sampling loop adds to the UNet's skip connections, step by step."""
