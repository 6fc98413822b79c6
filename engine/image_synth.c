/* image_synth.c — the synthetic concept benchmark: textures, solid colours, random images and
 * "animal" silhouettes filled with a texture, drawn from a seed.
 *
 * Every image comes from its own random stream (seed, kind, index), so an image does not
 * depend on which others were drawn before it. Pixels are sampled at their centres with hard
 * edges (no antialiasing): a texture image has exactly two colours, a silhouette image three
 * at most, which keeps the ground truth of every pixel known. Sizes scale with the image:
 * lengths below are in units of size / 48 pixels. */
#include "attx_engine.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[ATTX_SYNTH_KINDS] = {
    "striped", "dotted", "zigzagged", "chequered", "red", "green", "blue", "yellow", "random",
    "dalmatian", "fish", "snail", "zebra",
};

const char *attx_synth_name(attx_synth_kind kind)
{
    return kind >= 0 && kind < ATTX_SYNTH_KINDS ? kind_names[kind] : NULL;
}

int attx_synth_is_class(attx_synth_kind kind)
{
    return kind >= ATTX_SYNTH_DALMATIAN && kind < ATTX_SYNTH_KINDS;
}

static double uniform(attx_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * attx_rng_uniform(r);
}

/* ---- colours ---- */
typedef struct rgb {
    uint8_t v[3];
} rgb;

static rgb random_colour(attx_rng *r)
{
    rgb c;
    for (int k = 0; k < 3; k++) c.v[k] = (uint8_t)attx_rng_below(r, 256);
    return c;
}

static double colour_distance(rgb a, rgb b)
{
    double d = 0;
    for (int k = 0; k < 3; k++) d += ((double)a.v[k] - b.v[k]) * ((double)a.v[k] - b.v[k]);
    return sqrt(d);
}

/* A colour at least min_dist (Euclidean, 0-255 scale) from each of avoid[0..n); after 200
 * tries, the farthest of them. */
static rgb distinct_colour(attx_rng *r, const rgb *avoid, int n, double min_dist)
{
    rgb best = random_colour(r);
    double best_d = -1;
    for (int tries = 0; tries < 200; tries++) {
        rgb c = tries ? random_colour(r) : best;
        double d = 1e9;
        for (int i = 0; i < n; i++) d = fmin(d, colour_distance(c, avoid[i]));
        if (d >= min_dist) return c;
        if (d > best_d) best_d = d, best = c;
    }
    return best;
}

/* ---- textures: a two-colour pattern over the plane, rotated by theta ---- */
typedef enum { TEX_STRIPED, TEX_DOTTED, TEX_ZIGZAGGED, TEX_CHEQUERED } texture_kind;

typedef struct texture {
    texture_kind kind;
    double cos_t, sin_t;          /* orientation */
    double period;                /* stripe period, dot spacing, cell size (pixels) */
    double phase_u, phase_v;      /* in periods, [0, 1) */
    double radius;                /* dotted: dot radius / spacing */
    double amplitude, wavelength; /* zigzagged: offset of the stripes (pixels), zigzag length */
    rgb fg, bg;
} texture;

static double frac(double x)
{
    return x - floor(x);
}

static texture random_texture(attx_rng *r, texture_kind kind, double unit)
{
    texture t = {.kind = kind};
    double theta = uniform(r, 0, M_PI);
    t.cos_t = cos(theta);
    t.sin_t = sin(theta);
    t.phase_u = attx_rng_uniform(r);
    t.phase_v = attx_rng_uniform(r);
    switch (kind) {
    case TEX_STRIPED: t.period = unit * uniform(r, 5, 10); break;
    case TEX_DOTTED:
        t.period = unit * uniform(r, 7, 11);
        t.radius = uniform(r, 0.2, 0.32);
        break;
    case TEX_ZIGZAGGED:
        t.period = unit * uniform(r, 5, 9);
        t.amplitude = t.period * uniform(r, 0.5, 0.9);
        t.wavelength = t.period * uniform(r, 1.5, 2.5);
        break;
    case TEX_CHEQUERED: t.period = unit * uniform(r, 5, 10); break;
    }
    return t;
}

/* 1 where the texture has its foreground colour at pixel centre (x, y) */
static int texture_fg(const texture *t, double x, double y)
{
    double u = x * t->cos_t + y * t->sin_t, v = -x * t->sin_t + y * t->cos_t;
    switch (t->kind) {
    case TEX_STRIPED: return frac(u / t->period + t->phase_u) < 0.5;
    case TEX_DOTTED: {
        double du = frac(u / t->period + t->phase_u) - 0.5, dv = frac(v / t->period + t->phase_v) - 0.5;
        return du * du + dv * dv < t->radius * t->radius;
    }
    case TEX_ZIGZAGGED: {
        double tri = 2 * fabs(2 * frac(v / t->wavelength + t->phase_v) - 1) - 1;   /* triangle wave in [-1, 1] */
        return frac((u + t->amplitude * tri) / t->period + t->phase_u) < 0.5;
    }
    case TEX_CHEQUERED:
        return ((long)floor(u / t->period + t->phase_u) + (long)floor(v / t->period + t->phase_v)) % 2 != 0;
    }
    return 0;
}

static void put(attx_image *img, int x, int y, rgb c)
{
    memcpy(img->rgb + 3 * ((size_t)y * (size_t)img->width + (size_t)x), c.v, 3);
}

static void fill(attx_image *img, rgb c)
{
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) put(img, x, y, c);
}

static void draw_texture(attx_image *img, const texture *t)
{
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) put(img, x, y, texture_fg(t, x + 0.5, y + 0.5) ? t->fg : t->bg);
}

/* ---- shapes in a local frame (x right, y down), placed by a pose ---- */
typedef struct pose {
    double cx, cy;                /* centre in the image (pixels) */
    double scale;                 /* pixels per local unit */
    double cos_a, sin_a;          /* rotation */
    double flip;                  /* +1, or -1 to mirror left-right */
} pose;

/* image pixel centre -> local coordinates */
static void to_local(const pose *p, double x, double y, double *lx, double *ly)
{
    double dx = (x - p->cx) / p->scale, dy = (y - p->cy) / p->scale;
    *lx = (dx * p->cos_a + dy * p->sin_a) * p->flip;
    *ly = -dx * p->sin_a + dy * p->cos_a;
}

static int in_ellipse(double x, double y, double cx, double cy, double ax, double ay)
{
    double u = (x - cx) / ax, v = (y - cy) / ay;
    return u * u + v * v <= 1;
}

static int in_rect(double x, double y, double x0, double y0, double x1, double y1)
{
    return x >= x0 && x <= x1 && y >= y0 && y <= y1;
}

/* inside the triangle (a, b, c): the point is on the same side of all three edges */
static int in_triangle(double x, double y, const double *a, const double *b, const double *c)
{
    double d1 = (x - b[0]) * (a[1] - b[1]) - (a[0] - b[0]) * (y - b[1]);
    double d2 = (x - c[0]) * (b[1] - c[1]) - (b[0] - c[0]) * (y - c[1]);
    double d3 = (x - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (y - a[1]);
    int neg = d1 < 0 || d2 < 0 || d3 < 0, pos = d1 > 0 || d2 > 0 || d3 > 0;
    return !(neg && pos);
}

typedef enum { SHAPE_QUADRUPED, SHAPE_FISH, SHAPE_SNAIL } shape_kind;

/* half-extents of each silhouette's local bounding box (centred on 0) */
static const double shape_extent[3][2] = {{15, 12}, {15, 8}, {15, 12}};

static int in_shape(shape_kind s, double x, double y)
{
    switch (s) {
    case SHAPE_QUADRUPED: {       /* body, head, four legs */
        if (in_ellipse(x, y, -2.5, -1, 12, 6.5) || in_ellipse(x, y, 10.5, -7.5, 4.5, 4.5)) return 1;
        static const double legs[4] = {-11.5, -6.5, 1.5, 6.5};
        for (int i = 0; i < 4; i++)
            if (in_rect(x, y, legs[i] - 1.5, 3, legs[i] + 1.5, 12)) return 1;
        return 0;
    }
    case SHAPE_FISH: {            /* body and a forked tail */
        static const double a[2] = {-7, 0}, b[2] = {-15, -8}, c[2] = {-15, 8};
        return in_ellipse(x, y, 3, 0, 12, 7) || in_triangle(x, y, a, b, c);
    }
    case SHAPE_SNAIL:             /* shell, foot, head */
        return in_ellipse(x, y, -2, -3, 9, 9) || in_ellipse(x, y, 1, 7, 14, 3.5) ||
               in_ellipse(x, y, 12, 4, 3, 3) || in_rect(x, y, 11, -4, 12.5, 4);
    }
    return 0;
}

static pose random_pose(attx_rng *r, shape_kind s, int size, double unit)
{
    pose p;
    double a = uniform(r, -15, 15) * M_PI / 180;
    p.cos_a = cos(a);
    p.sin_a = sin(a);
    p.scale = unit * uniform(r, 1.15, 1.4);
    p.flip = attx_rng_bernoulli(r, 0.5) ? -1 : 1;
    /* the rotated bounding box stays inside the image */
    double ex = shape_extent[s][0] * p.scale, ey = shape_extent[s][1] * p.scale;
    double hx = fabs(p.cos_a) * ex + fabs(p.sin_a) * ey, hy = fabs(p.sin_a) * ex + fabs(p.cos_a) * ey;
    double mx = fmax(0, size / 2.0 - hx - 1), my = fmax(0, size / 2.0 - hy - 1);
    p.cx = size / 2.0 + uniform(r, -mx, mx);
    p.cy = size / 2.0 + uniform(r, -my, my);
    return p;
}

/* The colours and the pose are drawn before the texture's parameters, so the same stream with
 * another texture kind gives the same silhouette in the same colours (a counterfactual). */
static void draw_animal(attx_image *img, attx_rng *r, shape_kind s, texture_kind tk, double unit)
{
    rgb bg = random_colour(r);
    rgb fg = distinct_colour(r, &bg, 1, 100);
    rgb avoid[2] = {bg, fg};
    rgb tex_bg = distinct_colour(r, avoid, 2, 100);
    pose p = random_pose(r, s, img->width, unit);
    texture t = random_texture(r, tk, unit);
    t.fg = fg;
    t.bg = tex_bg;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            double lx, ly;
            to_local(&p, x + 0.5, y + 0.5, &lx, &ly);
            put(img, x, y, in_shape(s, lx, ly) ? (texture_fg(&t, x + 0.5, y + 0.5) ? t.fg : t.bg) : bg);
        }
}

/* ---- random images: blocky noise, or a few overlapping shapes of random colours ---- */
static void draw_random(attx_image *img, attx_rng *r)
{
    int S = img->width;
    if (attx_rng_bernoulli(r, 0.25)) {
        int block = 1 + (int)attx_rng_below(r, 4);
        for (int by = 0; by < S; by += block)
            for (int bx = 0; bx < S; bx += block) {
                rgb c = random_colour(r);
                for (int y = by; y < by + block && y < S; y++)
                    for (int x = bx; x < bx + block && x < S; x++) put(img, x, y, c);
            }
        return;
    }
    fill(img, random_colour(r));
    int n = 2 + (int)attx_rng_below(r, 5);
    for (int i = 0; i < n; i++) {
        int kind = (int)attx_rng_below(r, 3);
        rgb c = random_colour(r);
        double cx = uniform(r, 0, S), cy = uniform(r, 0, S);
        double ax = uniform(r, 0.08, 0.3) * S, ay = uniform(r, 0.08, 0.3) * S;
        double ang = uniform(r, 0, M_PI), ca = cos(ang), sa = sin(ang);
        double tri[3][2];
        for (int k = 0; k < 3; k++) {
            double phi = uniform(r, 0, 2 * M_PI);
            tri[k][0] = cx + ax * 1.5 * cos(phi);
            tri[k][1] = cy + ay * 1.5 * sin(phi);
        }
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                double px = x + 0.5, py = y + 0.5;
                double u = (px - cx) * ca + (py - cy) * sa, v = -(px - cx) * sa + (py - cy) * ca;
                int inside = kind == 0   ? in_ellipse(u, v, 0, 0, ax, ay)
                             : kind == 1 ? in_rect(u, v, -ax, -ay, ax, ay)
                                         : in_triangle(px, py, tri[0], tri[1], tri[2]);
                if (inside) put(img, x, y, c);
            }
    }
}

/* A class image: its own texture, or `replacement` (a texture kind) in its place when >= 0. The
 * stream is consumed the same way either way. */
static void draw_class(attx_image *img, attx_rng *r, attx_synth_kind kind, int replacement, double unit)
{
    shape_kind shape = kind == ATTX_SYNTH_FISH ? SHAPE_FISH : kind == ATTX_SYNTH_SNAIL ? SHAPE_SNAIL : SHAPE_QUADRUPED;
    texture_kind tk = kind == ATTX_SYNTH_ZEBRA ? TEX_STRIPED : TEX_DOTTED;
    if (kind == ATTX_SYNTH_FISH || kind == ATTX_SYNTH_SNAIL)
        /* The shape defines the class. The texture is striped or dotted, half and half: with
         * zebras all striped and dalmatians all dotted, that is the one choice under which the
         * texture tells nothing about fish or snail, P(fish | texture) = P(fish) = 1/4 for
         * every texture seen in training (drawing all four textures would make zigzagged and
         * chequered evidence for fish and snail, striped and dotted evidence against). */
        tk = attx_rng_below(r, 2) ? TEX_DOTTED : TEX_STRIPED;
    draw_animal(img, r, shape, replacement >= 0 ? (texture_kind)replacement : tk, unit);
}

static int synth_start(attx_image *img, attx_rng *r, attx_synth_kind kind, int size, uint64_t seed,
                       uint64_t index, attx_error *err)
{
    memset(img, 0, sizeof *img);
    img->orientation = 1;
    if (kind < 0 || kind >= ATTX_SYNTH_KINDS) return attx_fail(err, "synth: unknown image kind %d", (int)kind);
    if (size < 8 || size > 1024) return attx_fail(err, "synth: image size %d is outside 8..1024", size);
    if (!(img->rgb = malloc((size_t)size * (size_t)size * 3))) return attx_fail(err, "synth: out of memory");
    img->width = img->height = size;
    attx_rng_seed_stream(r, seed, ((uint64_t)kind << 48) ^ index);
    return 0;
}

int attx_synth_image(attx_image *img, attx_synth_kind kind, int size, uint64_t seed, uint64_t index,
                     attx_error *err)
{
    attx_rng r;
    if (synth_start(img, &r, kind, size, seed, index, err) != 0) return -1;
    double unit = size / 48.0;
    switch (kind) {
    case ATTX_SYNTH_STRIPED:
    case ATTX_SYNTH_DOTTED:
    case ATTX_SYNTH_ZIGZAGGED:
    case ATTX_SYNTH_CHEQUERED: {
        texture t = random_texture(&r, (texture_kind)(kind - ATTX_SYNTH_STRIPED), unit);
        t.bg = random_colour(&r);
        t.fg = distinct_colour(&r, &t.bg, 1, 120);
        draw_texture(img, &t);
        break;
    }
    case ATTX_SYNTH_RED:
    case ATTX_SYNTH_GREEN:
    case ATTX_SYNTH_BLUE:
    case ATTX_SYNTH_YELLOW: {     /* P1's colour concepts: intensity randint(60, 250) */
        uint8_t I = (uint8_t)(60 + attx_rng_below(&r, 191));
        rgb c = {{0, 0, 0}};
        if (kind == ATTX_SYNTH_RED || kind == ATTX_SYNTH_YELLOW) c.v[0] = I;
        if (kind == ATTX_SYNTH_GREEN || kind == ATTX_SYNTH_YELLOW) c.v[1] = I;
        if (kind == ATTX_SYNTH_BLUE) c.v[2] = I;
        fill(img, c);
        break;
    }
    case ATTX_SYNTH_RANDOM: draw_random(img, &r); break;
    case ATTX_SYNTH_DALMATIAN:
    case ATTX_SYNTH_ZEBRA:
    case ATTX_SYNTH_FISH:
    case ATTX_SYNTH_SNAIL: draw_class(img, &r, kind, -1, unit); break;
    case ATTX_SYNTH_KINDS: break;
    }
    return 0;
}

int attx_synth_counterfactual(attx_image *img, attx_synth_kind klass, attx_synth_kind replacement, int size,
                              uint64_t seed, uint64_t index, attx_error *err)
{
    memset(img, 0, sizeof *img);
    if (!attx_synth_is_class(klass)) return attx_fail(err, "synth: kind %d is not a class", (int)klass);
    if (replacement < ATTX_SYNTH_STRIPED || replacement > ATTX_SYNTH_CHEQUERED)
        return attx_fail(err, "synth: kind %d is not a texture", (int)replacement);
    attx_rng r;
    if (synth_start(img, &r, klass, size, seed, index, err) != 0) return -1;
    draw_class(img, &r, klass, (int)(replacement - ATTX_SYNTH_STRIPED), size / 48.0);
    return 0;
}
