"""The questions the lab asks, by experiment number (SPEC tasks 1-5): every section of a lab report
that carries one of these numbers answers its question from the run's own measurements."""

from __future__ import annotations

QUESTIONS = {
    "1.1": "What do the weights show: which patterns do the hidden units detect?",
    "1.2": "How does a reconstruction come about from the hidden state?",
    "1.3": "How evenly are the hidden units used?",
    "1.4": "How does training on the real-valued pixels, without the initial sampling, differ from the reference?",
    "1.5": "What does a larger k in CD-k change?",
    "1.6": "What do different learning rates change?",
    "1.7": "What do the chains started from random and from single-unit hidden states show?",
    "1.8": "What changes with fewer and with more hidden units, in the numbers and in the weights?",
    "2.1": "What do the top-level weights W2 show?",
    "2.2": "How do the DBN's reconstructions compare with the RBM's?",
    "2.3": "How do the DBN's samples compare with the RBM's of task 1?",
    "2.4": "What are the effects of a top RBM of 784 units whose W2 starts as W1 transposed?",
    "3.1": "How far have the recognition weights R1 and the generative weights W1' moved apart, and where?",
    "3.2": "How do the reconstructions of the RBM, the DBN and the fine-tuned DBN compare?",
    "3.3": "How do the fine-tuned DBN's samples compare with those of tasks 1 and 2?",
    "4.1": "How good are the VAE's reconstructions, and what does the latent state hold?",
    "4.2": "Which latent dimensions are used, and which collapse to the prior (what mu, sigma^2 and the decoder's weights show)?",
    "4.3": "How are the digits arranged in the latent space, and how well do they separate?",
    "4.4": "What changes with a 2-dimensional latent space, and what does the walk over the latent grid show?",
    "5.1": "How do the DCGAN's samples compare with the VAE's?",
    "5.2": "What do two discriminator steps per generator step, and the reverse, change?",
    "5.3": "What changes without batch normalisation?",
}


def number(title: str) -> str:
    """The experiment number a section title starts with: '1.5 Gibbs steps k in CD-k' -> '1.5' ('' if none)."""
    head = title.split(" ", 1)[0]
    return head if head in QUESTIONS else ""
