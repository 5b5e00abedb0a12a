# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The passes of a search over many postings, surfaces and terms, each in one compiled loop
(``make compiled``): choosing the candidates (:func:`procedures.search.best_docs` says
how), bounding their surfaces (:func:`procedures.search.surface_bounds`) and weighing what
their texts say (:func:`procedures.fulltext.text_scores`). Without a C compiler numpy does
the same (those functions)."""

import numpy as np

from libc.math cimport pow
from libc.string cimport memmove, memset
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t


cdef inline bint _before(
    const double* accumulated, const int32_t* first, int64_t one, int64_t other
) noexcept nogil:
    """Whether doc `one` ranks before doc `other` (`best_docs`)."""
    if accumulated[one] != accumulated[other]:
        return accumulated[one] > accumulated[other]
    if first[one] != first[other]:
        return first[one] < first[other]
    return one < other


def best_docs(postings, weights, priors, allowed, size):
    """:func:`procedures.search.best_docs`, compiled."""
    cdef const double[::1] prior = priors
    cdef Py_ssize_t count = prior.shape[0], words = len(postings), number, k, found = 0
    cdef Py_ssize_t wanted = size, i, child
    accumulated_array = np.zeros(count)
    first_array = np.full(count, words, np.int32)
    cdef double[::1] accumulated = accumulated_array
    cdef int32_t[::1] first = first_array
    cdef const int32_t[::1] docs
    cdef int64_t doc, held
    cdef double weight
    chosen_array = np.empty(count, np.int64)  # the docs any posting holds, as met
    cdef int64_t[::1] chosen = chosen_array
    for number in range(words):
        docs = postings[number]
        weight = weights[number]
        for k in range(docs.shape[0]):
            doc = docs[k]
            accumulated[doc] = accumulated[doc] + weight + prior[doc]
            if first[doc] == words:
                first[doc] = number
                chosen[found] = doc
                found += 1
    if allowed is not None:
        k, found = found, 0
        for i in range(k):
            if chosen[i] in allowed:
                chosen[found] = chosen[i]
                found += 1
    if found <= wanted:  # in doc order
        for k in range(1, found):
            held = chosen[k]
            i = k
            while i > 0 and chosen[i - 1] > held:
                chosen[i] = chosen[i - 1]
                i -= 1
            chosen[i] = held
        return chosen_array[:found].tolist()
    # The best `size`: a heap whose root is the worst of those kept, then sorted.
    cdef const double* sums = &accumulated[0]
    cdef const int32_t* firsts = &first[0]
    heap_array = np.empty(wanted, np.int64)
    cdef int64_t[::1] heap = heap_array
    for k in range(found):
        doc = chosen[k]
        if k < wanted:
            i = k  # sift up: a worse doc goes to the root
            while i > 0 and _before(sums, firsts, heap[(i - 1) // 2], doc):
                heap[i] = heap[(i - 1) // 2]
                i = (i - 1) // 2
            heap[i] = doc
        elif _before(sums, firsts, doc, heap[0]):
            i = 0  # sift down from the root
            while True:
                child = 2 * i + 1
                if child >= wanted:
                    break
                if child + 1 < wanted and _before(
                    sums, firsts, heap[child], heap[child + 1]
                ):
                    child += 1
                if not _before(sums, firsts, doc, heap[child]):
                    break
                heap[i] = heap[child]
                i = child
            heap[i] = doc
    for k in range(1, wanted):  # the best first
        held = heap[k]
        i = k
        while i > 0 and _before(sums, firsts, held, heap[i - 1]):
            heap[i] = heap[i - 1]
            i -= 1
        heap[i] = held
    return heap_array.tolist()


cdef double _cover(
    const int32_t* touched, Py_ssize_t holding, uint8_t* holds, Py_ssize_t slots,
    const double* slot_weights, const int64_t* alternative_firsts, const double* totals,
    const uint8_t* wholes, const int64_t* term_firsts, const int32_t* term_places,
    const double* term_weights, double whole,
) noexcept nogil:
    """The query cover `_score` measures of a surface holding the query's words at
    `touched`, without the accent and repair factors (`surface_bounds`)."""
    cdef Py_ssize_t k, slot, alternative, term
    cdef double matched = 0.0, fraction, taken
    cdef bint complete
    for k in range(holding):
        holds[touched[k]] = 1
    for slot in range(slots):
        fraction = 0.0
        for alternative in range(alternative_firsts[slot], alternative_firsts[slot + 1]):
            taken = 0.0
            complete = True
            for term in range(term_firsts[alternative], term_firsts[alternative + 1]):
                if term_places[term] >= 0 and holds[term_places[term]]:
                    taken += term_weights[term]
                else:
                    complete = False
            if (
                taken > 0 and totals[alternative] > 0
                and (complete or not wholes[alternative])
                and taken / totals[alternative] > fraction
            ):
                fraction = taken / totals[alternative]
        matched += slot_weights[slot] * fraction
    for k in range(holding):
        holds[touched[k]] = 0
    return matched / whole if whole > 0 else matched


def surface_bounds(arrays, candidates, held_words, said, slots, asked, weights, priors, factors):
    """:func:`procedures.search.surface_bounds`, compiled."""
    (text, long_message, whole, need_weight, gate, bonus, pairs_least, accented, variant_bits,
     cover_whole) = asked
    cdef double w_query, q_power, w_surface, w_order, w_fuzzy, variant_factor, weak, others_bonus
    cdef double scale
    (w_query, q_power, w_surface, w_order, w_fuzzy, variant_factor, weak, others_bonus,
     scale) = weights
    cdef const double[::1] prior_most = priors, factor_of = factors
    cdef const int64_t[::1] docs = candidates
    cdef const int64_t[::1] doc_first = arrays.doc_first
    cdef const int64_t[::1] doc_count = arrays.doc_count
    cdef const int64_t[::1] row_start = arrays.row_start
    cdef const uint64_t[::1] rows = arrays.rows
    cdef const int64_t[::1] pair_start = arrays.pair_start
    cdef const uint64_t[::1] pairs = arrays.pairs
    cdef const double[::1] content_total = arrays.content_total
    cdef const double[::1] text_length = arrays.text_length
    cdef const double[::1] factor = arrays.factor
    cdef const uint8_t[::1] head = arrays.head.view(np.uint8)
    cdef const int64_t[::1] variants = arrays.variants
    cdef const uint8_t[:, ::1] text_counts = arrays.text_counts
    places, idfs, shares, required, spans = held_words
    cdef const int32_t[::1] place_of = places
    cdef const double[::1] idf = idfs
    cdef const double[::1] share = shares
    cdef const uint8_t[::1] needed = required
    cdef const double[::1] span_of = spans
    cdef const double[:, ::1] pairs_said
    cdef const double[::1] slot_weights = slots[0]
    cdef const int64_t[::1] alternative_firsts = slots[1]
    cdef const double[::1] totals = slots[2]
    cdef const uint8_t[::1] wholes = slots[3]
    cdef const int64_t[::1] term_firsts = slots[4]
    cdef const int32_t[::1] term_places = slots[5]
    cdef const double[::1] term_weights = slots[6]
    cdef double explained_whole = cover_whole, matched
    cdef bint said_here
    cdef Py_ssize_t slot, term
    cdef bint ordered = said is not None, is_long = long_message, unaccented = not accented
    if ordered:
        pairs_said = said
    cdef double whole_weight = whole, need = need_weight, gate_at = gate, bonus_bound = bonus
    cdef double least_pairs = max(1, pairs_least)
    cdef int64_t unsaid = ~variant_bits
    cdef Py_ssize_t size = 0, c, s, e, k, begin, j = 0, count = share.shape[0]
    for c in range(docs.shape[0]):
        size += doc_count[docs[c]]
    surface_ids, starts_array = np.empty(size, np.int64), np.empty(docs.shape[0], np.int64)
    bounds_array, others_array = np.empty(size), np.empty(size)
    best_array, covers_array = np.empty(docs.shape[0]), np.empty(docs.shape[0])
    ranked_array = np.empty(size, np.int64)
    firsts_array = np.empty(docs.shape[0] + 1, np.int64)
    cdef int64_t[::1] ids = surface_ids, starts = starts_array
    cdef int64_t[::1] ranked = ranked_array, firsts = firsts_array
    cdef double[::1] bounds = bounds_array, others = others_array, best = best_array
    cdef double[::1] covers = covers_array
    # Per surface: the sums of the query's words it holds; per candidate, the words held.
    cdef double[::1] got = np.zeros(size), cover = np.zeros(size), span = np.zeros(size)
    cdef double[::1] shared = np.zeros(size)
    cdef double[::1] adjacent = np.zeros(size)
    cdef int64_t[::1] content_words = np.zeros(size, np.int64)
    cdef uint8_t[::1] witnessed = np.zeros(size, np.uint8), matching = np.zeros(size, np.uint8)
    cdef uint8_t[::1] held = np.zeros(count, np.uint8), explained = np.zeros(count, np.uint8)
    cdef uint8_t[::1] holds = np.zeros(count, np.uint8)  # by the surface at hand
    cdef int32_t[::1] touched = np.zeros(count, np.int32)  # a surface's places
    cdef int32_t place, left, right
    cdef int64_t holding, needing, contents
    cdef uint64_t mask, known
    cdef uint64_t covered_sets[512]
    cdef double covers_of_sets[512]
    cdef Py_ssize_t sets = 0
    memset(covered_sets, 0, sizeof(covered_sets))
    cdef uint64_t row
    cdef double summed, sharing, spanning
    cdef double total, most, wanted, surface_cover, similarity, order, relevance, a, b, key
    cdef Py_ssize_t r = 0, i
    for c in range(docs.shape[0]):
        begin = j
        starts[c] = j
        for k in range(count):
            held[k] = 0
            explained[k] = 0
        for s in range(doc_first[docs[c]], doc_first[docs[c]] + doc_count[docs[c]]):
            ids[j] = s
            holding = needing = contents = 0
            summed = sharing = spanning = 0.0
            for e in range(row_start[s], row_start[s + 1]):
                row = rows[e]
                place = place_of[<Py_ssize_t>(row & <uint64_t>0xFFFFFFFF)]
                if place < 0:
                    continue
                touched[holding] = place
                holding += 1
                held[place] = 1
                summed += idf[place] * <double>((row >> 32) & <uint64_t>0x7FFFFFFF)
                sharing += share[place]
                spanning += span_of[place]
                if needed[place]:
                    needing += 1
                    if row >> 63:
                        contents += 1
            got[j], shared[j], span[j], content_words[j] = summed, sharing, spanning, contents
            matching[j] = needing > 0 and not (head[s] and holding < 2)
            if matching[j]:
                mask = 0
                for k in range(holding):
                    explained[touched[k]] = 1
                    mask |= <uint64_t>1 << (touched[k] & 63)
                # The cover, once for each set of the query's words held (by place, when at
                # most 64).
                known = (mask * <uint64_t>0x9E3779B97F4A7C15) >> 55  # 0 … 511
                while count <= 64 and covered_sets[known] != 0 and covered_sets[known] != mask:
                    known = (known + 1) & 511
                if count <= 64 and covered_sets[known] == mask:
                    cover[j] = covers_of_sets[known]
                else:
                    cover[j] = _cover(
                        &touched[0], holding, &holds[0], slot_weights.shape[0], &slot_weights[0],
                        &alternative_firsts[0], &totals[0], &wholes[0], &term_firsts[0],
                        &term_places[0], &term_weights[0], whole_weight,
                    )
                    if count <= 64 and sets < 384:
                        covered_sets[known] = mask
                        covers_of_sets[known] = cover[j]
                        sets += 1
            if ordered and matching[j] and holding > 1:
                summed = 0.0
                for e in range(pair_start[s], pair_start[s + 1]):
                    left = place_of[<Py_ssize_t>(pairs[e] & <uint64_t>0xFFFFFFFF)]
                    if left < 0:
                        continue
                    right = place_of[<Py_ssize_t>(pairs[e] >> 32)]
                    if right >= 0:
                        summed += pairs_said[left, right]
                        if pairs_said[left, right] + pairs_said[right, left] > 0:
                            witnessed[j] = 1
                adjacent[j] = summed
            j += 1
        total = 0.0
        for k in range(count):
            if held[k]:
                total += share[k]
        for k in range(begin, j):
            others[k] = others_bonus * min(1.0, max(total - shared[k], 0.0))
        # The share of the query's required weight whose slots its scoring surfaces explain.
        matched = 0.0
        for slot in range(slot_weights.shape[0]):
            said_here = False
            for term in range(
                term_firsts[alternative_firsts[slot]], term_firsts[alternative_firsts[slot + 1]]
            ):
                if term_places[term] >= 0 and explained[term_places[term]]:
                    said_here = True
                    break
            if said_here:
                matched += slot_weights[slot]
        covers[c] = min(1.0, matched / explained_whole) if explained_whole > 0 else 0.0
    # At most the likeness `_score` measures (short queries): the characters both texts hold.
    cdef dict alphabet = arrays.text_alphabet
    wanted_array = np.zeros(text_counts.shape[1], np.int64)
    cdef int64_t[::1] wanted_count = wanted_array
    if not is_long:
        for character in text:
            if character in alphabet:
                wanted_count[<Py_ssize_t>alphabet[character]] += 1
    cdef int64_t[::1] columns = np.flatnonzero(wanted_array)
    cdef double length = len(text), common, letters
    for c in range(docs.shape[0]):
        most = -1.0
        firsts[c] = r
        for j in range(starts[c], starts[c] + doc_count[docs[c]]):
            if not matching[j]:
                bounds[j] = -1.0
                continue
            s = ids[j]
            wanted = cover[j]
            if is_long:
                wanted = wanted * (whole_weight / min(whole_weight, max(content_total[s], need)))
            wanted = min(wanted, 1.0)
            surface_cover = min(got[j] / content_total[s], 1.0) if content_total[s] > 0 else 0.0
            if is_long:
                a = span[j] - 1
                b = text_length[s]
                similarity = 2 * a / (a + b) if a < b else 1.0
            else:
                common = 0.0
                for k in range(columns.shape[0]):
                    # 255 stands for at least as many: the query's count then.
                    if text_counts[s, columns[k]] == 255:
                        common += wanted_count[columns[k]]
                    else:
                        common += min(wanted_count[columns[k]], text_counts[s, columns[k]])
                letters = length + text_length[s]
                similarity = (1.0 - (letters - 2 * common) / letters) * 100.0 / 100.0
            order = min(1.0, adjacent[j] / least_pairs) if ordered else 1.0
            relevance = (
                w_query * (wanted if q_power == 1.0 else pow(wanted, q_power))
                + w_surface * surface_cover
                + w_order * order
                + w_fuzzy * similarity
                + bonus_bound
            )
            if wanted < gate_at:
                relevance = relevance * wanted / gate_at
            if variants[s] & unsaid:
                relevance = relevance * variant_factor
            if (
                content_words[j] <= 1 and surface_cover < 0.99
                or ordered and unaccented and not witnessed[j]
            ):
                relevance = min(relevance, weak)
            bounds[j] = relevance * factor[s]
            key = bounds[j] + others[j]
            most = max(most, key)
            # Among the candidate's ranked so far: after those at least as high.
            i = r
            while i > firsts[c] and bounds[ranked[i - 1]] + others[ranked[i - 1]] < key:
                ranked[i] = ranked[i - 1]
                i -= 1
            ranked[i] = j
            r += 1
        best[c] = most
    firsts[docs.shape[0]] = r
    # Each candidate's bound, and the candidates by it (after those at least as high).
    bounded_array = np.empty(docs.shape[0])
    order_array = np.empty(docs.shape[0], np.int64)
    cdef double[::1] bounded = bounded_array
    cdef int64_t[::1] by_bound = order_array
    for c in range(docs.shape[0]):
        bounded[c] = 0.0
        if best[c] >= 0:
            bounded[c] = (max(best[c], 0.0) + prior_most[c]) / scale * factor_of[c]
        i = c
        while i > 0 and bounded[by_bound[i - 1]] < bounded[c]:
            by_bound[i] = by_bound[i - 1]
            i -= 1
        by_bound[i] = c
    return (
        surface_ids, starts_array, bounds_array, others_array, ranked_array[:r], firsts_array,
        covers_array, bounded_array, order_array,
    )


cdef Py_ssize_t _query_terms(
    const int64_t[::1] number, int64_t span, int64_t[::1] terms
) noexcept nogil:
    """The words and pairs of a query's word `number`s (-1: no text says the word) into
    `terms`, sorted, each once; returns how many (`text_scores`, `likeliest`)."""
    cdef Py_ssize_t n = number.shape[0], count = 0, i, j, at
    cdef int64_t term
    for i in range(n):
        for j in range(2):
            if number[i] < 0 or j == 1 and (i + 1 == n or number[i + 1] < 0):
                continue
            term = number[i] if j == 0 else (number[i] + 1) * span + number[i + 1]
            at = count
            while at > 0 and terms[at - 1] > term:
                at -= 1
            if at > 0 and terms[at - 1] == term:
                continue
            memmove(&terms[at + 1], &terms[at], (count - at) * sizeof(int64_t))
            terms[at] = term
            count += 1
    return count


cdef Py_ssize_t _first_not_below(
    const int64_t[::1] key, Py_ssize_t low, Py_ssize_t top, int64_t base, int64_t term
) noexcept nogil:
    """Where the first of `key[low:top]` (less `base`) not below `term` is (a binary search)."""
    cdef Py_ssize_t middle
    while low < top:
        middle = (low + top) >> 1
        if key[middle] - base < term:
            low = middle + 1
        else:
            top = middle
    return low


def text_scores(keys, starts, weights, long long span, numbers, docs):
    """:func:`procedures.fulltext.text_scores`, compiled."""
    cdef const int64_t[::1] key = keys
    cdef const int64_t[::1] start = starts
    cdef const float[::1] weight = weights
    cdef const int64_t[::1] number = numbers
    cdef const int64_t[::1] doc = docs
    cdef Py_ssize_t count, i, j, high, at
    cdef int64_t per_doc = (span + 1) * span, base
    cdef double total
    terms_array = np.empty(2 * number.shape[0] + 1, np.int64)
    cdef int64_t[::1] terms = terms_array
    count = _query_terms(number, span, terms)
    out = []
    for i in range(doc.shape[0]):  # each term looked for in the doc's keys, after the last
        total = 0.0
        base = doc[i] * per_doc
        at, high = start[doc[i]], start[doc[i] + 1]
        for j in range(count):
            at = _first_not_below(key, at, high, base, terms[j])
            if at < high and key[at] - base == terms[j]:
                total += weight[at]
        out.append(total)
    return out


def likeliest(known, rarities, holders, groups, weights, norms, long long span, numbers,
              excluded):
    """:func:`procedures.fulltext.likeliest`, compiled."""
    cdef const int64_t[::1] term_of = known
    cdef const double[::1] rarity = rarities
    cdef const int64_t[::1] holder = holders
    cdef const int64_t[::1] group = groups
    cdef const double[::1] weight = weights
    cdef const double[::1] norm = norms
    cdef const int64_t[::1] number = numbers
    cdef Py_ssize_t count, i, j, at, best = -1, size = norm.shape[0]
    cdef double total = 0.0, value, most = 0.0
    terms_array = np.empty(2 * number.shape[0] + 1, np.int64)
    cdef int64_t[::1] terms = terms_array
    count = _query_terms(number, span, terms)
    said_array = np.zeros(size)
    cdef double[::1] said = said_array
    at = 0
    for j in range(count):  # each term's groups, after the last term found
        at = _first_not_below(term_of, at, term_of.shape[0], 0, terms[j])
        if at == term_of.shape[0] or term_of[at] != terms[j]:
            continue
        total += rarity[at]
        for i in range(holder[at], holder[at + 1]):
            said[group[i]] += weight[i]
    if total == 0.0:
        return -1
    for i in excluded:
        said[<Py_ssize_t>i] = -1e300
    for i in range(size):
        if said[i] < -1e299:
            continue
        value = said[i] - total * norm[i]
        if best < 0 or value > most:
            best, most = i, value
    return best
