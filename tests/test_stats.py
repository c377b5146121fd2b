

def test_verdict_needs_the_bar_and_an_interval_above_zero():
    from ssl_examples.stats import verdict

    rnd = {"linear": [0.30, 0.31, 0.29], "knn": [0.20, 0.21, 0.19]}
    clear = {"linear": [0.40, 0.41, 0.39], "knn": [0.25, 0.26, 0.24]}  # +10 and +5, same every seed
    assert verdict(clear, rnd) == "both"
    small = {"linear": [0.40, 0.41, 0.39], "knn": [0.22, 0.23, 0.21]}  # kNN +2: below its bar
    assert verdict(small, rnd) == "linear only"
    noisy = {"linear": [0.60, 0.20, 0.40], "knn": [0.25, 0.26, 0.24]}  # +10 on average, but not over seeds
    assert verdict(noisy, rnd) == "kNN only"
    assert verdict(rnd, rnd) == "neither"


def test_a_gain_is_paired_by_seed_and_a_single_seed_has_no_interval():
    from ssl_examples.stats import format_gain, format_interval

    # gains 0.10, 0.12, 0.14: mean +12.0, sd 2.0 points, half width 4.303 * 2 / sqrt(3) = 4.97
    assert format_gain([0.40, 0.43, 0.45], [0.30, 0.31, 0.31]) == "+12.0 ± 5.0"
    assert format_gain([0.28], [0.30]) == "-2.0" and format_interval([0.28]) == "28.0"  # no "± nan"
