// SPDX-License-Identifier: GPL-2.0-only
//
// Registers pair_style chemgnn with LAMMPS when loaded by `plugin load`.

#include "lammpsplugin.h"

#include "pair_chemgnn.h"

#ifndef CHEMGNN_LAMMPS_VERSION
#define CHEMGNN_LAMMPS_VERSION "22 Jul 2025"
#endif

using namespace LAMMPS_NS;

static Pair *chemgnn_creator(LAMMPS *lmp)
{
  return new PairChemgnn(lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  plugin.version = CHEMGNN_LAMMPS_VERSION;
  plugin.style = "pair";
  plugin.name = "chemgnn";
  plugin.info = "chemgnn graph neural network potentials (SchNet, L0Net/L1Net)";
  plugin.author = "chemgnn developers";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &chemgnn_creator;
  plugin.handle = handle;
  ((lammpsplugin_regfunc) regfunc)(&plugin, lmp);
}
