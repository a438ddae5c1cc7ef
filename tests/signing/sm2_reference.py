"""A textbook SM2 (GB/T 32918.2 §6-7) in affine coordinates, for tests only: slow, not constant-time.

It exists to check the published annex example, whose curve (Fp-256 test curve, Annex A.2) no production
library offers, and to tie that check to the library we use: the same code verifies tongsuopy's signatures
on the recommended curve and makes fixed-k signatures that tongsuopy must accept.
"""

from __future__ import annotations

from dataclasses import dataclass

from signing.sm2 import sm3

Point = tuple[int, int] | None


@dataclass(frozen=True)
class Curve:
    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int

    def on_curve(self, point: Point) -> bool:
        if point is None:
            return True
        x, y = point
        return (y * y - x * x * x - self.a * x - self.b) % self.p == 0

    def add(self, p1: Point, p2: Point) -> Point:
        if p1 is None:
            return p2
        if p2 is None:
            return p1
        (x1, y1), (x2, y2) = p1, p2
        if x1 == x2 and (y1 + y2) % self.p == 0:
            return None
        if p1 == p2:
            lam = (3 * x1 * x1 + self.a) * pow(2 * y1, -1, self.p) % self.p
        else:
            lam = (y2 - y1) * pow(x2 - x1, -1, self.p) % self.p
        x3 = (lam * lam - x1 - x2) % self.p
        return x3, (lam * (x1 - x3) - y1) % self.p

    def mul(self, k: int, point: Point) -> Point:
        result: Point = None
        while k:
            if k & 1:
                result = self.add(result, point)
            point = self.add(point, point)
            k >>= 1
        return result

    @property
    def g(self) -> Point:
        return self.gx, self.gy


def _b32(value: int) -> bytes:
    return value.to_bytes(32, "big")


def z_value(curve: Curve, user_id: bytes, public: tuple[int, int]) -> bytes:
    """Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) (§5.5)."""
    entl = (len(user_id) * 8).to_bytes(2, "big")
    parts = [curve.a, curve.b, curve.gx, curve.gy, public[0], public[1]]
    return sm3(entl + user_id + b"".join(_b32(v) for v in parts))


def sign(curve: Curve, d: int, user_id: bytes, message: bytes, k: int) -> tuple[int, int]:
    public = curve.mul(d, curve.g)
    assert public is not None
    e = int.from_bytes(sm3(z_value(curve, user_id, public) + message), "big")
    point = curve.mul(k, curve.g)
    assert point is not None
    r = (e + point[0]) % curve.n
    s = pow(1 + d, -1, curve.n) * (k - r * d) % curve.n
    return r, s


def verify(curve: Curve, public: tuple[int, int], user_id: bytes, message: bytes, r: int, s: int) -> bool:
    if not (1 <= r < curve.n and 1 <= s < curve.n):
        return False
    e = int.from_bytes(sm3(z_value(curve, user_id, public) + message), "big")
    t = (r + s) % curve.n
    if t == 0:
        return False
    point = curve.add(curve.mul(s, curve.g), curve.mul(t, public))
    return point is not None and (e + point[0]) % curve.n == r


# GB/T 32918.2-2016 Annex A.2: the Fp-256 example curve.
TEST_CURVE = Curve(
    p=0x8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3,
    a=0x787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498,
    b=0x63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A,
    gx=0x421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D,
    gy=0x0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2,
    n=0x8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7,
)
# GB/T 32918.5-2017: the recommended curve sm2p256v1.
SM2_CURVE = Curve(
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
)
