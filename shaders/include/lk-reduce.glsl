// lk-reduce.glsl: sums and maxima over a 1-D workgroup.
//
// The including kernel defines LK_REDUCE_SUBGROUP_ID, the constant_id of a bool that says
// whether subgroup arithmetic may be used; the C side sets it only when the device has it and
// then picks a power-of-two local size that is a multiple of the subgroup size. A workgroup of
// one subgroup (lavapipe's usual shape) reduces without a barrier.

#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable

layout(constant_id = LK_REDUCE_SUBGROUP_ID) const bool LK_USE_SUBGROUP = false;

shared float lk_reduce_scratch[gl_WorkGroupSize.x];

float lk_reduce_combine (float a, float b, bool is_max)
{
  return is_max ? max (a, b) : a + b;
}

// Every invocation of the workgroup must call it; every one gets the result.
float lk_workgroup_reduce (float v, bool is_max)
{
  if (LK_USE_SUBGROUP)
    {
      v = is_max ? subgroupMax (v) : subgroupAdd (v);
      if (gl_NumSubgroups == 1)
        return v;
      barrier ();  // an earlier call may still be reading the scratch
      if (subgroupElect ())
        lk_reduce_scratch[gl_SubgroupID] = v;
      barrier ();
      v = lk_reduce_scratch[0];
      for (uint i = 1; i < gl_NumSubgroups; i++)
        v = lk_reduce_combine (v, lk_reduce_scratch[i], is_max);
      return v;
    }

  uint lid = gl_LocalInvocationID.x;
  barrier ();
  lk_reduce_scratch[lid] = v;
  barrier ();
  for (uint s = gl_WorkGroupSize.x / 2; s > 0; s >>= 1)
    {
      if (lid < s)
        lk_reduce_scratch[lid] = lk_reduce_combine (lk_reduce_scratch[lid], lk_reduce_scratch[lid + s], is_max);
      barrier ();
    }
  return lk_reduce_scratch[0];
}

float lk_workgroup_sum (float v)
{
  return lk_workgroup_reduce (v, false);
}

float lk_workgroup_max (float v)
{
  return lk_workgroup_reduce (v, true);
}

// Index of a workgroup in a 1-D grid split over x and y.
uint lk_workgroup_index_1d ()
{
  return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}
