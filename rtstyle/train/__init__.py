"""Trainers for every network family (needs the 'train' extra for plots and progress bars)."""


def add_run_flags(t, log_every: int = 25, ckpt_every: int = 250) -> None:
    """The flags every ``rtstyle train`` subcommand shares: seed, log/checkpoint schedule, time
    limit, CPU threads, device and resuming (rtstyle.train.loop.TrainLoop)."""
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--log-every", type=int, default=log_every, help="steps between loss-log rows (and a validation)")
    t.add_argument("--ckpt-every", type=int, default=ckpt_every, help="steps between checkpoints and sample grids")
    t.add_argument("--max-minutes", type=float, default=0.0, help="stop with a checkpoint after this long (0 = off)")
    t.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    t.add_argument("--device", default="auto", help="auto (CUDA if present) | cpu | cuda | cuda:N")
    t.add_argument("--no-resume", action="store_true", help="start over even if the run folder has a checkpoint")
    t.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                   help="auto: bf16 autocast on CUDA, and on a CPU with bf16 units where a probe shows it faster")
    t.add_argument("--init", default=None, metavar="WEIGHTS",
                   help="with no checkpoint in the run folder, start from these shipped .safetensors weights "
                        "(their manifest's steps count as done)")


def run_fields(a) -> dict:
    """The config fields every ``rtstyle train`` subcommand takes from :func:`add_run_flags`."""
    return {"seed": a.seed, "log_every": a.log_every, "ckpt_every": a.ckpt_every, "max_minutes": a.max_minutes,
            "device": a.device, "threads": a.threads, "precision": a.precision,
            "init": str(a.init) if a.init else ""}
