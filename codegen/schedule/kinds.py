"""What a lowering produced, as it tells the schedule rules: the value of the one block annotation
`KEY` (te.compute(..., attrs={KEY: GEMM, ...}) reaches the TIR block's annotations). Rules look at
these, never at block names."""

KEY = "schedule"

GEMM = "gemm"                          # C[..., M, N] += A * B over K, register-tiled (attrs gemm_mr, gemm_nr)
CONV_GEMM = "conv_gemm"                # the implicit-im2col conv product (attrs gemm_mr, gemm_nr)
CONV_DIRECT = "conv_direct"            # a direct conv over output-channel panels, blocked result (attr conv_pixels)
CONV_1X1 = "conv_1x1"                  # a 1x1 stride-1 conv as a GEMM over (C_out, H*W) (attrs gemm_mr, gemm_nr)
CONV_BLOCKED = "conv_blocked"          # a group-1 conv in the channel-blocked layout [N, C/B, H, W, B] (attr conv_tile)
CONV_DEPTHWISE = "conv_depthwise"      # a depthwise conv's stencil over phase planes (attr gemm_nr)
DEPTHWISE_BLOCKED = "depthwise_blocked"  # a depthwise conv of a blocked input [N, C/B, H, W, B], read in place
CONV_BLOCKED_NCHW = "conv_blocked_nchw"  # a conv from a plain NCHW input of few channels into NCHW[B]c (a stem)
PADDED_INPUT = "padded_input"          # a conv's zero-padded input: placed by the conv's rule where the conv reads it
CONV_WGRAD_GEMM = "conv_wgrad_gemm"    # a conv's weight gradient as per-channel GEMMs (attr gemm_nr)
CONV_PLANES = "conv_planes"            # a conv's padded input copied into flat planes (attr plane_width)
STENCIL_PLANES = "stencil_planes"      # a stencil's padded input as 2-D planes [N, C, phases, rows, Wq]
STENCIL_PHASES = "stencil_phases"      # stencil planes split from a padded input by column phase (attr phase_lanes)
WINOGRAD_INPUT = "winograd_input"      # Winograd's input transform [positions, tiles, C_in], unrolled per position
WINOGRAD_HALF = "winograd_half"        # a Winograd transform's first half (along one tile axis), placed by its consumer
POOL_GRAD_TILED = "pool_grad_tiled"    # a 2-D max pool's gradient over windows tiling the input (attr pool_strides)
POOL_ARGMAX = "pool_argmax"            # its windows' argmax, placed per row of windows by the POOL_GRAD_TILED rule
PACK = "pack"                          # a layout copy for a kernel's inner loop (GEMM panels): never inlined
STORED = "stored"                      # a value computed once into a buffer: its Lets must not be inlined twice
GEMM_PANELS = "gemm_panels"            # matmul's B copied into NR-column panels [..., N/NR, K, NR] (attr transposed)
EPILOGUE_DONE = "epilogue_done"        # set by a schedule: a GEMM's elementwise consumer placed in its tile loop
LAYER_NORM = "layer_norm"              # the normalized output of layer_norm (attr rows: leading dims)
LAYER_NORM_STATS = "layer_norm_stats"  # layer_norm's per-row sums, placed by the LAYER_NORM rule
SOFTMAX = "softmax"                    # (log_)softmax's output over the last axis (attr rows: leading dims)
SOFTMAX_STATS = "softmax_stats"        # softmax's row max and row sum of exp, placed by the SOFTMAX rule
ROW_STATS = {LAYER_NORM: LAYER_NORM_STATS, SOFTMAX: SOFTMAX_STATS}  # a row-wise output -> its statistics' kind

LAYOUT_COPIES = frozenset({PACK, PADDED_INPUT, GEMM_PANELS, CONV_PLANES, STENCIL_PLANES, STENCIL_PHASES,
                           STORED, WINOGRAD_INPUT, WINOGRAD_HALF})  # blocks kept as loop nests of their own


def kind_of(sch, block):
    """The block's annotated kind, or None."""
    value = sch.get(block).annotations.get(KEY)
    return None if value is None else str(value)
