# depth-rt taught by the measured stereo pairs of three stereodemo validation rooms; the fourth
# (donkey_toy + kid_bedroom) stays out as real stereo validation (docs/depth.md, "Training on real
# stereo", second run, pre-registered 2026-12-03 before training or scoring)
# first: python scripts/validate_depth_net.py rtstyle/weights/depth-rt.safetensors --ship 5 --out runs/depth-rt-x5.safetensors
nice -n 19 python -m rtstyle.cli train depth --variant rt --prior rows --out runs/depth-rt-stereo3 \
  --init runs/depth-rt-x5.safetensors --size 128x96 --batch 4 --real-batch 6 \
  --real-data ../shared/data/content --textures ../shared/data/content \
  --sfm-clip ../shared/data/video/big_buck_bunny_20s.mp4 --sfm-frames 0:276 \
  --stereo-scenes bedroom_chair,cycles,toy --stereo-weight 0.5 --stereo-batch 2 \
  --iters 1351 --lr 5e-4 --pairs 800 --si-weight 0.5 --buffer 300 --fresh 1 --val-views 32 \
  --log-every 50 --ckpt-every 50 --max-minutes 45 --threads 1 --precision auto
