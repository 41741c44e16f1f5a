// The TF.js layers-model oracle: runs a Keras model.json (UpscalerJS's ESRGAN) on the pure-JS
// CPU backend.
//
//   node run-layers.mjs MODEL.json INPUT.bin N,H,W,C OUT.bin
//
// INPUT.bin holds little-endian f32 values of the given shape; OUT.bin gets the model's output
// as little-endian f32.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

// A file-system IOHandler: @tensorflow/tfjs alone has no file:// loader in node.
function fileHandler (modelPath) {
  return {
    async load () {
      const json = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
      const dir = path.dirname(modelPath);
      const specs = [];
      const buffers = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths)
          buffers.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

const [modelPath, inputPath, shapeText, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: node run-layers.mjs MODEL.json INPUT.bin N,H,W,C OUT.bin');
  process.exit(2);
}
await tf.setBackend('cpu');
const model = await tf.loadLayersModel(fileHandler(modelPath));
const shape = shapeText.split(',').map(Number);
const raw = fs.readFileSync(inputPath);
const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const out = model.predict(tf.tensor(values, shape, 'float32'));
fs.writeFileSync(outPath, Buffer.from(new Float32Array(out.dataSync()).buffer));
