# depth-rt taught by the photo cues (docs/depth.md, "Next: a net taught by the photo cues")
nice -n 19 python -m rtstyle.cli train depth --variant rt --prior rows --out runs/depth-rt-cue \
  --init rtstyle/weights/depth-rt.safetensors --size 128x96 --batch 4 --real-batch 6 \
  --real-data ../shared/data/content --textures ../shared/data/content \
  --sfm-clip ../shared/data/video/big_buck_bunny_20s.mp4 --sfm-frames 0:276 \
  --iters 1113 --lr 5e-4 --pairs 800 --si-weight 0.5 --buffer 300 --fresh 1 --val-views 32 \
  --cue-weight 0.5 --cue-gate 1.2 --log-every 50 --ckpt-every 50 --max-minutes 40 --threads 1 --precision auto
