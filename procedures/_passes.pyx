# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The two passes of a search over many postings and surfaces, each in one compiled loop
(``make compiled``): choosing the candidates (:func:`procedures.search.candidate_sums` says
what it sums) and bounding their surfaces (:func:`procedures.search.surface_sums`). Without a
C compiler numpy takes the same sums (those two functions)."""

import numpy as np

from libc.stdint cimport int32_t, int64_t, uint8_t


def candidate_sums(postings, weights, priors):
    cdef const double[::1] prior = priors
    cdef Py_ssize_t count = prior.shape[0], words = len(postings), number, k
    accumulated_array = np.zeros(count)
    first_array = np.full(count, words, np.int32)
    cdef double[::1] accumulated = accumulated_array
    cdef int32_t[::1] first = first_array
    cdef const int32_t[::1] docs
    cdef int32_t doc
    cdef double weight
    for number in range(words):
        docs = postings[number]
        weight = weights[number]
        for k in range(docs.shape[0]):
            doc = docs[k]
            accumulated[doc] = accumulated[doc] + weight + prior[doc]
            if first[doc] == words:
                first[doc] = number
    return accumulated_array, first_array


def surface_sums(arrays, candidates, places, shares, required, spans, said):
    cdef const int64_t[::1] docs = candidates
    cdef const int64_t[::1] doc_first = arrays.doc_first
    cdef const int64_t[::1] doc_count = arrays.doc_count
    cdef const int64_t[::1] row_start = arrays.row_start
    cdef const int32_t[::1] row_words = arrays.row_words
    cdef const double[::1] row_weights = arrays.row_weights
    cdef const uint8_t[::1] row_content = arrays.row_content
    cdef const int64_t[::1] pair_start = arrays.pair_start
    cdef const int32_t[::1] pair_first = arrays.pair_first
    cdef const int32_t[::1] pair_second = arrays.pair_second
    cdef const int32_t[::1] place_of = places
    cdef const double[::1] share = shares
    cdef const uint8_t[::1] needed = required
    cdef const double[::1] span_of = spans
    cdef const double[:, ::1] pairs_said
    cdef bint ordered = said is not None
    if ordered:
        pairs_said = said
    cdef Py_ssize_t size = 0, c, s, e, k, begin, j = 0, count = share.shape[0]
    for c in range(docs.shape[0]):
        size += doc_count[docs[c]]
    surface_ids = np.empty(size, np.int64)
    got_array, cover_array, span_array = np.zeros(size), np.zeros(size), np.zeros(size)
    hits_array = np.zeros(size, np.int64)
    required_array = np.zeros(size, np.int64)
    content_array = np.zeros(size, np.int64)
    held_array, adjacent_array = np.zeros(size), np.zeros(size)
    witnessed_array = np.zeros(size, np.uint8)
    cdef int64_t[::1] ids = surface_ids, hits = hits_array
    cdef int64_t[::1] required_here = required_array, content_words = content_array
    cdef double[::1] got = got_array, cover = cover_array, span = span_array
    cdef double[::1] held_shares = held_array, adjacent = adjacent_array
    cdef uint8_t[::1] witnessed = witnessed_array
    cdef uint8_t[::1] held = np.zeros(count, np.uint8)
    cdef int32_t place, left, right
    cdef double total
    for c in range(docs.shape[0]):
        begin = j
        for k in range(count):
            held[k] = 0
        for s in range(doc_first[docs[c]], doc_first[docs[c]] + doc_count[docs[c]]):
            ids[j] = s
            for e in range(row_start[s], row_start[s + 1]):
                place = place_of[row_words[e]]
                if place < 0:
                    continue
                hits[j] += 1
                held[place] = 1
                got[j] += row_weights[e]
                cover[j] += share[place]
                span[j] += span_of[place]
                if needed[place]:
                    required_here[j] += 1
                    if row_content[e]:
                        content_words[j] += 1
            if ordered and hits[j] > 1:
                for e in range(pair_start[s], pair_start[s + 1]):
                    left = place_of[pair_first[e]]
                    right = place_of[pair_second[e]]
                    if left >= 0 and right >= 0:
                        adjacent[j] += pairs_said[left, right]
                        if pairs_said[left, right] + pairs_said[right, left] > 0:
                            witnessed[j] = 1
            j += 1
        total = 0.0
        for k in range(count):
            if held[k]:
                total += share[k]
        for k in range(begin, j):
            held_shares[k] = total
    return (
        surface_ids, got_array, cover_array, span_array, hits_array, required_array,
        content_array, held_array, adjacent_array, witnessed_array.view(np.bool_),
    )
