// The face-api oracle: runs a face-api.js network from its weights manifest on the pure-JS CPU
// backend. The network is written with TF.js ops exactly as @vladmandic/face-api's MIT source
// composes them (its bundles need tfjs-node or the wasm backend, which this oracle avoids).
//
//   node run-faceapi.mjs landmarks|descriptor MANIFEST.json INPUT.bin SIZE OUT.bin
//
// INPUT.bin holds SIZE×SIZE×3 little-endian f32 RGB values in pixel units (0–255); face-api
// normalises them itself. OUT.bin gets the raw network output (136 landmark values in [0, 1] of
// the input square, or the 128-D descriptor) as little-endian f32.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

const [kind, manifestPath, inputPath, sizeText, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: node run-faceapi.mjs landmarks|descriptor MANIFEST.json INPUT.bin SIZE OUT.bin');
  process.exit(2);
}
await tf.setBackend('cpu');
const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
const dir = path.dirname(manifestPath);
const weightMap = {};
for (const group of manifest) {
  const buffers = group.paths.map((p) => fs.readFileSync(path.join(dir, p)));
  const all = Buffer.concat(buffers);
  const data = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  Object.assign(weightMap, tf.io.decodeWeights(data, group.weights));
}
const size = Number(sizeText);
const raw = fs.readFileSync(inputPath);
const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const input = tf.tensor4d(values, [1, size, size, 3], 'float32');
// FaceFeatureExtractor + FaceLandmark68Net (faceFeatureExtractor/, faceLandmarkNet/).
function separable (x, p, stride) {
  return tf.add(tf.separableConv2d(x, weightMap[`${p}/depthwise_filter`],
    weightMap[`${p}/pointwise_filter`], stride, 'same'), weightMap[`${p}/bias`]);
}
function denseBlock4 (x, p, first) {
  const out1 = tf.relu(first
    ? tf.add(tf.conv2d(x, weightMap[`${p}/conv0/filters`], [2, 2], 'same'), weightMap[`${p}/conv0/bias`])
    : separable(x, `${p}/conv0`, [2, 2]));
  const out2 = separable(out1, `${p}/conv1`, [1, 1]);
  const in3 = tf.relu(tf.add(out1, out2));
  const out3 = separable(in3, `${p}/conv2`, [1, 1]);
  const in4 = tf.relu(tf.add(out1, tf.add(out2, out3)));
  const out4 = separable(in4, `${p}/conv3`, [1, 1]);
  return tf.relu(tf.add(out1, tf.add(out2, tf.add(out3, out4))));
}
let out;
if (kind === 'landmarks') {
  const mean = tf.tensor1d([122.782, 117.001, 104.298]);
  let x = tf.div(tf.sub(input, mean), 255);
  x = denseBlock4(x, 'dense0', true);
  x = denseBlock4(x, 'dense1', false);
  x = denseBlock4(x, 'dense2', false);
  x = denseBlock4(x, 'dense3', false);
  x = tf.avgPool(x, [7, 7], [2, 2], 'valid');
  out = tf.add(tf.matMul(tf.reshape(x, [1, -1]), weightMap['fc/weights']), weightMap['fc/bias']);
} else if (kind === 'descriptor') {
  // FaceRecognitionNet (faceRecognitionNet/): conv + bias, then the scale layer.
  const convLayer = (x, p, stride, relu, padding) => {
    let y = tf.add(tf.conv2d(x, weightMap[`${p}/conv/filters`], stride, padding), weightMap[`${p}/conv/bias`]);
    y = tf.add(tf.mul(y, weightMap[`${p}/scale/weights`]), weightMap[`${p}/scale/biases`]);
    return relu ? tf.relu(y) : y;
  };
  const residual = (x, p) => {
    let y = convLayer(x, `${p}/conv1`, [1, 1], true, 'same');
    y = convLayer(y, `${p}/conv2`, [1, 1], false, 'same');
    return tf.relu(tf.add(y, x));
  };
  const residualDown = (x, p) => {
    let y = convLayer(x, `${p}/conv1`, [2, 2], true, 'valid');
    y = convLayer(y, `${p}/conv2`, [1, 1], false, 'same');
    let pooled = tf.avgPool(x, 2, 2, 'valid');
    const zeros = tf.zeros(pooled.shape);
    if (pooled.shape[1] !== y.shape[1] || pooled.shape[2] !== y.shape[2]) {
      const sx = [...y.shape]; sx[1] = 1;
      y = tf.concat([y, tf.zeros(sx)], 1);
      const sy = [...y.shape]; sy[2] = 1;
      y = tf.concat([y, tf.zeros(sy)], 2);
    }
    pooled = pooled.shape[3] !== y.shape[3] ? tf.concat([pooled, zeros], 3) : pooled;
    return tf.relu(tf.add(pooled, y));
  };
  const mean = tf.tensor1d([122.782, 117.001, 104.298]);
  let x = tf.div(tf.sub(input, mean), 255);
  x = convLayer(x, 'conv32_down', [2, 2], true, 'valid');
  x = tf.maxPool(x, 3, 2, 'valid');
  for (const p of ['conv32_1', 'conv32_2', 'conv32_3']) x = residual(x, p);
  x = residualDown(x, 'conv64_down');
  for (const p of ['conv64_1', 'conv64_2', 'conv64_3']) x = residual(x, p);
  x = residualDown(x, 'conv128_down');
  for (const p of ['conv128_1', 'conv128_2']) x = residual(x, p);
  x = residualDown(x, 'conv256_down');
  for (const p of ['conv256_1', 'conv256_2']) x = residual(x, p);
  x = residualDown(x, 'conv256_down_out');
  out = tf.matMul(x.mean([1, 2]), weightMap.fc);
} else {
  console.error(`unknown network ${kind}`);
  process.exit(2);
}
fs.writeFileSync(outPath, Buffer.from(new Float32Array(out.dataSync()).buffer));
