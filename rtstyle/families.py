"""Model family names in one place, free of torch so argparse can list them cheaply."""

# Families that paint a style (rtstyle.styles.choose picks among their weights).
STYLIZING = ("johnson", "compact", "multi", "lite", "adain")
# Families whose one set of weights paints any style image (arbitrary style transfer).
ARBITRARY = ("adain",)
# Families with one conditional-norm row per style, picked (or mixed) by a ``style`` vector input.
VECTOR_STYLED = ("multi", "lite")
# Families made for CPUs: a distilled copy of another net, chosen on a GPU only when asked for.
CPU_TIER = ("lite",)
# Teachers for the lite family's distillation, best first (rtstyle.train.distill).
TEACHER_ORDER = ("multi", "johnson", "compact", "adain")
