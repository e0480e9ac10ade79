"""Outlines of things in their own coordinates, in metres (a: rightwards or
along, b: up), as lists of (a, b) points."""
import numpy as np


def arc(centre, radius, start_deg, end_deg, num=8):
    """Points on a circle from start_deg to end_deg (b up, degrees CCW)."""
    angles = np.radians(np.linspace(start_deg, end_deg, num))
    return [(centre[0] + radius * np.cos(t), centre[1] + radius * np.sin(t))
            for t in angles]


def rect(a0, a1, b0, b1):
    return [(a0, b0), (a1, b0), (a1, b1), (a0, b1)]


def person_shape(height, stride):
    """A standing/walking pedestrian seen from the front, feet at b=0."""
    k = height / 1.75
    head = arc((0, height - 0.11 * k), 0.11 * k, -60, 240, 10)
    right = [(stride - 0.05 * k, 0), (stride + 0.08 * k, 0),
             (0.14 * k, 0.5 * height), (0.2 * k, 0.47 * height),
             (0.25 * k, 0.56 * height), (0.23 * k, 0.8 * height),
             (0.07 * k, 0.84 * height)]
    left = [(-0.07 * k, 0.84 * height), (-0.23 * k, 0.8 * height),
            (-0.25 * k, 0.56 * height), (-0.2 * k, 0.47 * height),
            (-0.14 * k, 0.5 * height), (-stride - 0.08 * k, 0),
            (-stride + 0.05 * k, 0), (0, 0.45 * height)]
    return right + head + left


def rider_shape(seat, bar, pedal):
    """A cyclist seen from the side facing +a: seat, handlebar and pedal
    positions of the two-wheeler place the body."""
    (sa, sb), (ha, hb), (pa, pb) = seat, bar, pedal
    shoulder = (sa + 0.3, sb + 0.52)
    head = arc((shoulder[0] + 0.1, shoulder[1] + 0.2), 0.11, 200, -30, 8)
    return [(sa - 0.1, sb - 0.02), (sa - 0.12, sb + 0.15),
            (shoulder[0] - 0.15, shoulder[1])] + head + [
        (shoulder[0] + 0.12, shoulder[1] - 0.05), (ha - 0.02, hb + 0.12),
        (ha + 0.03, hb + 0.02), (ha - 0.06, hb), (shoulder[0] + 0.05,
                                                  shoulder[1] - 0.3),
        (sa + 0.28, sb + 0.02), (pa + 0.2, pb + 0.38), (pa + 0.12, pb - 0.02),
        (pa - 0.02, pb - 0.02), (pa + 0.06, pb + 0.33), (sa + 0.05,
                                                         sb - 0.12)]


def wheel_arcs(centres, radius, num=7):
    """The lower halves of wheels, front (+a) first, for vehicle outlines."""
    points = []
    for ca in sorted(centres, reverse=True):
        points += arc((ca, radius), radius, 0, -180, num)
    return points
