import torch

from rtstyle.bench.quality import Score, Scorer, table


def test_scores_are_relative_to_the_photo():
    torch.manual_seed(0)
    scorer = Scorer("mosaic", style_size=64)
    # a smooth photo-like image: gradients plus a few blobs
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 64), indexing="ij")
    photo = torch.stack([xx, yy, (xx * yy) ** 0.5])[None]
    c, s, d = scorer.score(photo, photo)
    assert c == 0.0
    assert abs(s - 1.0) < 1e-5 and abs(d - 1.0) < 1e-5
    noise = torch.rand_like(photo)
    c, s, d = scorer.score(noise, photo)
    assert 0.5 < c < 2.0  # the noise reference is another noise draw: about 1
    assert s > 0 and d > 0


def test_table_has_means_per_method():
    rows = [Score("a.jpg", "johnson net", 0.5, 0.2, 0.3, 0.01), Score("a.jpg", "gatys-500", 0.4, 0.1, 0.2, 30.0),
            Score("b.jpg", "johnson net", 0.7, 0.4, 0.5, 0.01)]
    text = table(rows)
    assert "| **mean** | johnson net | 0.600 | 0.300 | 0.400 |" in text
    assert text.count("\n") == 1 + 3 + 2


def test_eval_scores_the_default_net_at_the_photos_real_size(tmp_path):
    import cv2
    import numpy as np
    from rtstyle.bench.quality import evaluate
    rng = np.random.default_rng(0)
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), cv2.resize(rng.integers(0, 256, (6, 9, 3), dtype=np.uint8), (90, 60)))
    (s,) = evaluate([photo], "mosaic", None, size=0, gatys_iters=0, log=lambda *_: None)
    assert s.photo == "p.png" and s.method.endswith(" net")
    assert 0.0 < s.content < 2.0 and 0.0 < s.style < 1.0   # moved towards the painting, photo not lost


def test_eval_with_gatys_scores_it_beside_the_net_and_shows_its_progress(tmp_path, capsys):
    import cv2
    import numpy as np
    from rtstyle.bench.quality import evaluate
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), cv2.resize(np.random.default_rng(1).integers(0, 256, (6, 9, 3), dtype=np.uint8), (96, 64)))
    net, gatys = evaluate([photo], "mosaic", None, size=0, gatys_iters=3, log=lambda *_: None, device="cpu")
    assert net.method.endswith(" net") and gatys.method == "gatys-3" and gatys.seconds > 0
    err = capsys.readouterr().err      # tqdm's bar on stderr
    assert "gatys p.png" in err and "3/3" in err
