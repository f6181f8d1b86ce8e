// Finding verse pairs that are not translations of each other.
//
// The Spanish module numbers a few passages the Hebrew way (Numbers 13 and 30, 1 Samuel 24,
// 1 Kings 22, 1 Chronicles 21, 2 Chronicles 33, Job 39-40, Hosea 12, Jonah 2, ...): there
// verse v holds the text of English verse v-1 (or v+5), or of two English verses at once.
// Pairing by reference would then teach a model wrong translations, so such pairs are
// found from the Strong's numbers that both texts carry (the KJV's numbers serve for
// every English target, as the English Bibles share their numbering) and left out.
//
// Scores compare sets of Strong's numbers: score(A, B) = |A ∩ B| / max(|A|, |B|).
// Verse i of a book (both sides with at least kMinimumNumbers numbers) is misaligned when
//   - another verse j, 0 < |i - j| <= kWindow, fits better: score(S_i, T_j) >= score(S_i, T_i)
//     + kMargin (the text moved), or
//   - a neighbour completes it: score(S_i, T_i ∪ T_i±1) or score(S_i ∪ S_i±1, T_i) is at
//     least 0.6 and kMargin above score(S_i, T_i) (two verses merged into one), or
//   - it has almost nothing in common: score < 0.1 with at least 4 numbers on each side.
#pragma once

#include <string>
#include <vector>

namespace attn::data {

inline constexpr int kAlignmentWindow = 6;
inline constexpr double kAlignmentMargin = 0.25;
inline constexpr std::size_t kAlignmentMinimumNumbers = 3;

// Per verse of one book, in order: the source's and the reference's Strong's numbers
// (sorted, without repeats; empty for a missing or untagged verse). Returns one flag per
// verse, true = misaligned. Both lists must have the same length.
std::vector<bool> misaligned_verses(const std::vector<std::vector<std::string>>& source,
                                    const std::vector<std::vector<std::string>>& reference);

}  // namespace attn::data
