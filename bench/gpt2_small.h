// The GPT-2-small shape the benchmarks use (12 layers, d_model 768, 12 heads, d_mlp 3072, vocab 50257).
#pragma once

#include "core/model/config.h"

inline headlight::ModelConfig gpt2SmallConfig() {
    headlight::ModelConfig c;
    c.family = headlight::Family::Gpt2;
    c.modelType = "gpt2";
    c.nLayers = 12;
    c.dModel = 768;
    c.nHeads = c.nKvHeads = 12;
    c.dHead = 64;
    c.dMlp = 3072;
    c.dVocab = 50257;
    c.nCtx = 1024;
    c.act = headlight::Activation::GeluNew;
    c.tiedEmbeddings = true;
    c.bosTokenId = 50256;
    return c;
}
