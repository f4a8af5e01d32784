nice -n 19 python -m rtstyle.cli train depth --variant rt --prior rows --out runs/depth-rt-resid \
  --init rtstyle/weights/depth-rt.safetensors --size 128x96 --batch 6 --real-batch 3 \
  --real-data /work/shared/data/content --textures /work/shared/data/content \
  --sfm-clip /work/shared/data/video/big_buck_bunny_20s.mp4 --sfm-frames 0:276 \
  --iters 700 --lr 5e-4 --pairs 800 --si-weight 0.5 --buffer 300 --fresh 1 --val-views 32 \
  --log-every 50 --ckpt-every 100 --max-minutes 23 --threads 1 --precision auto
