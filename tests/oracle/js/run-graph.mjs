// The TF.js oracle: runs a graph model (model.json + shards) on the pure-JS CPU backend.
//
//   node run-graph.mjs MODEL.json INPUT.bin N,H,W,C OUTPUT_NAMES OUT_DIR
//
// INPUT.bin holds little-endian f32 values of the given shape; OUTPUT_NAMES is a comma-separated
// list of node names; each output is written to OUT_DIR/<index>.bin as little-endian f32, and
// OUT_DIR/shapes.json lists their shapes.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

// A file-system IOHandler: @tensorflow/tfjs alone has no file:// loader in node, and
// tfjs-node would download a native library.
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
        signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

const [modelPath, inputPath, shapeText, outputText, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: node run-graph.mjs MODEL.json INPUT.bin N,H,W,C OUTPUT_NAMES OUT_DIR');
  process.exit(2);
}
await tf.setBackend('cpu');
const model = await tf.loadGraphModel(fileHandler(modelPath));
const shape = shapeText.split(',').map(Number);
const raw = fs.readFileSync(inputPath);
const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const input = tf.tensor(values, shape, 'float32');
const names = outputText.split(',');
let outputs = model.execute(input, names);
if (!Array.isArray(outputs))
  outputs = [outputs];
const shapes = [];
for (let i = 0; i < outputs.length; i++) {
  const data = outputs[i].dataSync();
  fs.writeFileSync(path.join(outDir, `${i}.bin`), Buffer.from(new Float32Array(data).buffer));
  shapes.push(outputs[i].shape);
}
fs.writeFileSync(path.join(outDir, 'shapes.json'), JSON.stringify(shapes));
