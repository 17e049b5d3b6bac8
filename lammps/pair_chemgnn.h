/* SPDX-License-Identifier: GPL-2.0-only
 *
 * pair_style chemgnn: a chemgnn checkpoint (SchNet, L0Net/L1Net) as a LAMMPS pair style, through
 * chemgnn's C ABI (crates/chemgnn-capi/include/chemgnn.h). See README.md in this directory. */
#ifndef LMP_PAIR_CHEMGNN_H
#define LMP_PAIR_CHEMGNN_H

#include "pair.h"

#include "chemgnn.h"

#include <vector>

namespace LAMMPS_NS {

class PairChemgnn : public Pair {
 public:
  PairChemgnn(class LAMMPS *);
  ~PairChemgnn() override;
  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;

 private:
  enum class Mode { Auto, Images, Ghosts };

  ChemgnnModel *model = nullptr;
  int double_precision = 1;
  Mode mode = Mode::Auto;
  bool images = false;          // this run maps ghost atoms to their owners (decided in init_style)
  double cutoff = 0.0;          // pair cutoff of the model
  double ghost_cutoff = 0.0;    // cutoff x message-passing layers
  std::vector<int> type_number; // atomic number of each LAMMPS type (index 0 unused)
  std::vector<int32_t> numbers, receivers, senders, owner_of_tag;
  std::vector<double> vectors, pair_forces, atom_energies;

  void allocate();
  int collect_pairs();
  void fail(const char *what, const char *message);
};

}    // namespace LAMMPS_NS

#endif
