"""Image-layout ops: Pad, Resize/Upsample, DepthToSpace/SpaceToDepth, CenterCropPad, Col2Im, grids."""
