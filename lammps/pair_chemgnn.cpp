// SPDX-License-Identifier: GPL-2.0-only
//
// pair_style chemgnn: energies, forces and virial from a chemgnn checkpoint through chemgnn's C
// ABI. Two ways to give a message-passing model the neighbourhoods it needs:
//  - images (one MPI rank): every ghost atom is a periodic image of a local atom; each pair (i, j)
//    of a local atom i is passed as (i, owner of j, r_ij), the periodic graph chemgnn uses itself,
//    so the model runs on the local atoms only and the usual cutoff + skin of ghosts suffices;
//  - ghosts (any number of ranks): the model sees the local atoms, the ghost atoms out to
//    `layers x cutoff` and every pair of them (a full neighbour list with ghost lists); the energy
//    is the sum of the local atoms' energies, and the forces on ghosts are summed onto their owners
//    by LAMMPS' reverse communication (newton_pair on), as pair_nequip does.

#include "pair_chemgnn.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

using namespace LAMMPS_NS;

namespace {
const char *const SYMBOLS[] = {
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",
    "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge",
    "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd",
    "In", "Sn", "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd",
    "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg",
    "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U",  "Np", "Pu", "Am", "Cm",
    "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn",
    "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};

// Atomic number of an element symbol, 0 when unknown.
int atomic_number(const char *symbol)
{
  for (int z = 1; z <= 118; ++z)
    if (strcmp(symbol, SYMBOLS[z - 1]) == 0) return z;
  return 0;
}
}    // namespace

PairChemgnn::PairChemgnn(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  ghostneigh = 1;
  no_virial_fdotr_compute = 1;
  centroidstressflag = CENTROID_NOTAVAIL;
}

PairChemgnn::~PairChemgnn()
{
  chemgnn_model_free(model);
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
    memory->destroy(cutghost);
  }
}

void PairChemgnn::allocate()
{
  allocated = 1;
  const int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  memory->create(cutghost, n, n, "pair:cutghost");
  for (int i = 1; i < n; ++i)
    for (int j = i; j < n; ++j) setflag[i][j] = 0;
}

void PairChemgnn::fail(const char *what, const char *message)
{
  error->all(FLERR, "pair_style chemgnn: {}: {}", what, message);
}

// pair_style chemgnn [precision double|single] [mode auto|images|ghosts]
void PairChemgnn::settings(int narg, char **arg)
{
  for (int k = 0; k < narg; k += 2) {
    if (k + 1 >= narg || (strcmp(arg[k], "precision") != 0 && strcmp(arg[k], "mode") != 0))
      error->all(FLERR, "Illegal pair_style chemgnn command: expected "
                        "`pair_style chemgnn [precision double|single] [mode auto|images|ghosts]`");
    const char *value = arg[k + 1];
    if (strcmp(arg[k], "precision") == 0) {
      if (strcmp(value, "double") == 0) double_precision = 1;
      else if (strcmp(value, "single") == 0) double_precision = 0;
      else error->all(FLERR, "pair_style chemgnn: precision must be double or single, not {}", value);
    } else {
      if (strcmp(value, "auto") == 0) mode = Mode::Auto;
      else if (strcmp(value, "images") == 0) mode = Mode::Images;
      else if (strcmp(value, "ghosts") == 0) mode = Mode::Ghosts;
      else error->all(FLERR, "pair_style chemgnn: mode must be auto, images or ghosts, not {}", value);
    }
  }
}

// pair_coeff * * MODEL_DIR Element1 Element2 ... (one element per atom type)
void PairChemgnn::coeff(int narg, char **arg)
{
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  if (narg != 3 + ntypes || strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_style chemgnn: expected `pair_coeff * * MODEL_DIR` and one element per atom type ({} types)",
               ntypes);
  char message[1024] = {0};
  chemgnn_model_free(model);
  model = chemgnn_model_load(arg[2], double_precision, message, sizeof message);
  if (model == nullptr) fail("cannot load the model", message);
  char unit[64] = {0};
  chemgnn_model_energy_unit(model, unit, sizeof unit);
  if (strcmp(unit, "eV") != 0 || strcmp(update->unit_style, "metal") != 0)
    error->all(FLERR, "pair_style chemgnn: the model predicts energies in {} and needs `units metal` (eV, Angstrom), not units {}",
               unit, update->unit_style);
  cutoff = chemgnn_model_cutoff(model);
  ghost_cutoff = cutoff * chemgnn_model_layers(model);

  type_number.assign(ntypes + 1, 0);
  for (int t = 1; t <= ntypes; ++t) {
    type_number[t] = atomic_number(arg[2 + t]);
    if (type_number[t] == 0) error->all(FLERR, "pair_style chemgnn: unknown element `{}` for atom type {}", arg[2 + t], t);
  }
  for (int i = 1; i <= ntypes; ++i)
    for (int j = i; j <= ntypes; ++j) setflag[i][j] = 1;
  if (comm->me == 0)
    utils::logmesg(lmp, "pair_style chemgnn: {} (chemgnn {}), cutoff {} A, {} layers, ghost atoms needed to {} A\n", arg[2],
                   chemgnn_version(), cutoff, chemgnn_model_layers(model), ghost_cutoff);
}

void PairChemgnn::init_style()
{
  if (force->newton_pair == 0) error->all(FLERR, "pair_style chemgnn requires `newton on`");
  if (model == nullptr) error->all(FLERR, "pair_style chemgnn: pair_coeff has not loaded a model");
  if (mode == Mode::Images && comm->nprocs > 1)
    error->all(FLERR, "pair_style chemgnn: mode images needs one MPI rank (use mode ghosts or auto)");
  images = mode == Mode::Images || (mode == Mode::Auto && comm->nprocs == 1);
  ghostneigh = images ? 0 : 1;
  if (images) {
    neighbor->add_request(this, NeighConst::REQ_FULL);
    return;
  }
  neighbor->add_request(this, NeighConst::REQ_FULL | NeighConst::REQ_GHOST);
  // Message passing: a local atom's energy depends on atoms up to `layers x cutoff` away.
  const double needed = ghost_cutoff + neighbor->skin;
  if (comm->cutghostuser < needed) {
    comm->cutghostuser = needed;
    if (comm->me == 0)
      utils::logmesg(lmp, "pair_style chemgnn: communication cutoff set to {} A (layers x cutoff + skin)\n", needed);
  }
}

double PairChemgnn::init_one(int i, int j)
{
  cutghost[i][j] = cutghost[j][i] = cutoff;
  return cutoff;
}

// Fills numbers, receivers, senders and vectors from the neighbour list; returns how many atoms
// the model sees.
int PairChemgnn::collect_pairs()
{
  double **x = atom->x;
  const int *type = atom->type;
  const int nlocal = atom->nlocal;
  const int atoms = images ? nlocal : nlocal + atom->nghost;
  numbers.resize(atoms);
  for (int k = 0; k < atoms; ++k) numbers[k] = type_number[type[k]];
  if (images) {
    tagint largest = 0;
    for (int k = 0; k < nlocal; ++k) largest = std::max(largest, atom->tag[k]);
    owner_of_tag.assign(largest + 1, -1);
    for (int k = 0; k < nlocal; ++k) owner_of_tag[atom->tag[k]] = k;
  }
  receivers.clear();
  senders.clear();
  vectors.clear();
  const double cutoff_squared = cutoff * cutoff;
  const int lists = images ? list->inum : list->inum + list->gnum;
  for (int ii = 0; ii < lists; ++ii) {
    const int i = list->ilist[ii];
    const int *neighbours = list->firstneigh[i];
    for (int jj = 0; jj < list->numneigh[i]; ++jj) {
      const int j = neighbours[jj] & NEIGHMASK;
      const double r[3] = {x[j][0] - x[i][0], x[j][1] - x[i][1], x[j][2] - x[i][2]};
      if (r[0] * r[0] + r[1] * r[1] + r[2] * r[2] > cutoff_squared) continue;
      int sender = j;
      if (images && j >= nlocal) {
        const tagint tag = atom->tag[j];
        sender = tag < (tagint) owner_of_tag.size() ? owner_of_tag[tag] : -1;
        if (sender < 0) error->one(FLERR, "pair_style chemgnn: ghost atom {} is not an image of a local atom (use mode ghosts)", tag);
      }
      receivers.push_back(i);
      senders.push_back(sender);
      vectors.insert(vectors.end(), r, r + 3);
    }
  }
  return atoms;
}

void PairChemgnn::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);
  double **f = atom->f;
  const int nlocal = atom->nlocal;
  const int atoms = collect_pairs();
  const size_t pairs = receivers.size();
  pair_forces.resize(3 * pairs);
  atom_energies.resize(atoms);

  ChemgnnPairs input = {(size_t) atoms, (size_t) nlocal, numbers.data(), pairs, receivers.data(), senders.data(), vectors.data()};
  ChemgnnResult result = {0.0, atom_energies.data(), pair_forces.data(), {0.0, 0.0, 0.0, 0.0, 0.0, 0.0}};
  char message[1024] = {0};
  if (chemgnn_compute(model, &input, &result, message, sizeof message) != 0)
    error->one(FLERR, "pair_style chemgnn: {}", message);

  // Pair p acts on its sender with f_p and on its receiver with -f_p.
  for (size_t p = 0; p < pairs; ++p) {
    const int i = receivers[p], j = senders[p];
    for (int c = 0; c < 3; ++c) {
      f[j][c] += pair_forces[3 * p + c];
      f[i][c] -= pair_forces[3 * p + c];
    }
  }
  if (eflag_global) eng_vdwl += result.energy;
  if (eflag_atom)
    for (int i = 0; i < nlocal; ++i) eatom[i] += atom_energies[i];
  if (vflag_global)
    for (int c = 0; c < 6; ++c) virial[c] += result.virial[c];
  if (vflag_atom) {
    // Half of each pair's r (x) f to either atom (ghosts' shares are summed onto their owners).
    for (size_t p = 0; p < pairs; ++p) {
      const double *r = &vectors[3 * p], *fp = &pair_forces[3 * p];
      const double w[6] = {r[0] * fp[0], r[1] * fp[1], r[2] * fp[2], 0.5 * (r[0] * fp[1] + r[1] * fp[0]),
                           0.5 * (r[0] * fp[2] + r[2] * fp[0]), 0.5 * (r[1] * fp[2] + r[2] * fp[1])};
      for (int c = 0; c < 6; ++c) {
        vatom[receivers[p]][c] += 0.5 * w[c];
        vatom[senders[p]][c] += 0.5 * w[c];
      }
    }
  }
}
